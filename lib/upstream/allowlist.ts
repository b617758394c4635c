// Which upstream handles may be mirrored. Rules are globs on handles (`google/*`,
// `tensorflow/tfjs-model/*`); a rule written `!pattern` denies, and a deny rule always wins. Rules
// are seeded once from HUBKEEP_ALLOWLIST and managed through the API/admin UI afterwards.
import { ADVISORY_LOCKS, db, lockTransaction } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { handleMatches } from "../auth/permissions.ts";
import { recordAudit } from "../audit.ts";
import type { Principal } from "../auth/principal.ts";

export type Rule = { pattern: string; effect: "allow" | "deny" };

export type RuleDecision = { allowed: true; rule: Rule } | { allowed: false; rule: Rule | null; reason: string };

export function formatRule(rule: Rule): string {
  return rule.effect === "deny" ? `!${rule.pattern}` : rule.pattern;
}

/** Parses `google/*` / `!google/experimental/*` into a rule (validating the pattern). */
export function parseRule(text: string): Rule {
  const t = text.trim();
  const deny = t.startsWith("!");
  const pattern = (deny ? t.slice(1) : t).trim().toLowerCase();
  if (!pattern || !/^[a-z0-9*?_.\-/]+$/.test(pattern) || pattern.includes("//") || pattern.split("/").some((s) => s === "..")) {
    throw new AppError("unprocessable_entity", `"${text}" is not a valid rule: use handle characters, * and ?, with an optional leading !`);
  }
  return { pattern, effect: deny ? "deny" : "allow" };
}

/** Pure decision: deny rules win; otherwise the first matching allow rule; otherwise refused. */
export function evaluateRules(rules: Rule[], handle: string): RuleDecision {
  const deny = rules.find((r) => r.effect === "deny" && handleMatches(r.pattern, handle));
  if (deny) return { allowed: false, rule: deny, reason: `"${handle}" is denied by rule "${formatRule(deny)}"` };
  const allow = rules.find((r) => r.effect === "allow" && handleMatches(r.pattern, handle));
  if (allow) return { allowed: true, rule: allow };
  return { allowed: false, rule: null, reason: `no rule allows "${handle}"` };
}

export async function listRules(): Promise<Array<Rule & { id: string; note: string | null; createdAt: Date }>> {
  const prisma = await db();
  const rows = await prisma.allowRule.findMany({ orderBy: [{ effect: "desc" }, { pattern: "asc" }] });
  return rows.map((r) => ({ id: r.id, pattern: r.pattern, effect: r.effect, note: r.note, createdAt: r.createdAt }));
}

/** Throws 403 naming the rule (or that none allows it); the refusal is audited. */
export async function assertAllowed(handle: string, ctx: { actor: Principal; ip?: string | null }): Promise<Rule> {
  const decision = evaluateRules(await listRules(), handle);
  if (decision.allowed) return decision.rule;
  await recordAudit({
    actor: ctx.actor,
    action: "mirror.refused",
    outcome: "denied",
    ip: ctx.ip,
    targetType: "module",
    target: handle,
    details: { rule: decision.rule ? formatRule(decision.rule) : null, reason: decision.reason },
  });
  throw new AppError("forbidden", `not allowlisted: ${decision.reason}`);
}

const SEEDED_KEY = "allowlist.seeded";

/** Seeds HUBKEEP_ALLOWLIST into the rules table the first time only. Returns the rules it added. */
export async function seedAllowlistOnce(rules: string[]): Promise<Rule[]> {
  const prisma = await db();
  return prisma.$transaction(async (tx) => {
    // Replicas starting together seed once: the others wait here, then find the marker.
    await lockTransaction(tx, ADVISORY_LOCKS.allowlistSeed);
    const seeded = await tx.setting.findUnique({ where: { key: SEEDED_KEY } });
    if (seeded) return [];
    const parsed = rules.map(parseRule);
    await tx.allowRule.createMany({ data: parsed.map((r) => ({ ...r, note: "seeded from HUBKEEP_ALLOWLIST" })), skipDuplicates: true });
    await tx.setting.create({ data: { key: SEEDED_KEY, value: { at: new Date().toISOString(), rules } } });
    await recordAudit({ actor: null, action: "allowlist.seed", details: { rules } }, tx);
    return parsed;
  });
}

/** Adds a rule (409 if it exists), audited. */
export async function addRule(input: { text: string; note?: string; actor: Principal; ip?: string | null }) {
  const rule = parseRule(input.text);
  const prisma = await db();
  const row = await prisma.allowRule.create({
    data: { ...rule, note: input.note ?? null, createdById: input.actor.kind === "user" && input.actor.via !== "cli" ? input.actor.userId : null },
  });
  await recordAudit({ actor: input.actor, action: "allowlist.add", ip: input.ip, targetType: "rule", target: formatRule(rule), details: { id: row.id, note: input.note } });
  return { id: row.id, pattern: row.pattern, effect: row.effect, note: row.note, createdAt: row.createdAt };
}

/** Removes a rule (404 if unknown), audited. */
export async function removeRule(input: { id: string; actor: Principal; ip?: string | null }) {
  const prisma = await db();
  const row = await prisma.allowRule.delete({ where: { id: input.id } });
  await recordAudit({ actor: input.actor, action: "allowlist.remove", ip: input.ip, targetType: "rule", target: formatRule(row), details: { id: row.id } });
}

export type RulePreview = {
  rule: Rule;
  /** Existing models the pattern matches, with whether mirroring them is allowed now and after saving. */
  matches: Array<{ handle: string; source: string; allowedNow: boolean; allowedAfter: boolean }>;
  total: number;
  changed: number;
};

/** What a rule would do before it is saved: the existing models it matches and whose decision flips. */
export async function previewRule(input: { text: string; limit?: number }): Promise<RulePreview> {
  const rule = parseRule(input.text);
  const prisma = await db();
  const [rules, modules] = await Promise.all([listRules(), prisma.module.findMany({ select: { handle: true, source: true }, orderBy: { handle: "asc" } })]);
  const after = [...rules, rule];
  const all = modules
    .filter((m) => handleMatches(rule.pattern, m.handle))
    .map((m) => ({ handle: m.handle, source: m.source, allowedNow: evaluateRules(rules, m.handle).allowed, allowedAfter: evaluateRules(after, m.handle).allowed }));
  return { rule, matches: all.slice(0, input.limit ?? 200), total: all.length, changed: all.filter((m) => m.allowedNow !== m.allowedAfter).length };
}

/** How many existing models each saved rule matches (the rule editor's list). */
export async function ruleMatchCounts(): Promise<Map<string, number>> {
  const prisma = await db();
  const [rules, modules] = await Promise.all([listRules(), prisma.module.findMany({ select: { handle: true } })]);
  return new Map(rules.map((r) => [r.id, modules.filter((m) => handleMatches(r.pattern, m.handle)).length]));
}
