// The saved allowlist: rules are seeded once from HUBKEEP_ALLOWLIST and managed through the API/admin
// UI afterwards; every change and every refusal is audited. How rules decide is
// lib/upstream/allowlist.ts's.
import { ADVISORY_LOCKS, db, lockTransaction } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "./audit.ts";
import { actorUserId, type Principal } from "../auth/principal.ts";
import {
  countRuleMatches,
  evaluateRules,
  formatRule,
  parseRule,
  previewRuleOn,
  type Rule,
  type RulePreview,
} from "../upstream/allowlist.ts";

/** A saved rule. */
export type SavedRule = Rule & { id: string; note: string | null; createdAt: Date };

export async function listRules(): Promise<SavedRule[]> {
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
    await tx.allowRule.createMany({
      data: parsed.map((r) => ({ ...r, note: "seeded from HUBKEEP_ALLOWLIST" })),
      skipDuplicates: true,
    });
    await tx.setting.create({ data: { key: SEEDED_KEY, value: { at: new Date().toISOString(), rules } } });
    await recordAudit({ actor: null, action: "allowlist.seed", details: { rules } }, tx);
    return parsed;
  });
}

/** Adds a rule (409 if it exists), audited. */
export async function addRule(input: {
  text: string;
  note?: string;
  actor: Principal;
  ip?: string | null;
}): Promise<SavedRule> {
  const rule = parseRule(input.text);
  const prisma = await db();
  const row = await prisma.allowRule.create({
    data: { ...rule, note: input.note ?? null, createdById: actorUserId(input.actor) },
  });
  await recordAudit({
    actor: input.actor,
    action: "allowlist.add",
    ip: input.ip,
    targetType: "rule",
    target: formatRule(rule),
    details: { id: row.id, note: input.note },
  });
  return { id: row.id, pattern: row.pattern, effect: row.effect, note: row.note, createdAt: row.createdAt };
}

/** Removes a rule (404 if unknown), audited. */
export async function removeRule(input: { id: string; actor: Principal; ip?: string | null }): Promise<void> {
  const prisma = await db();
  const row = await prisma.allowRule.delete({ where: { id: input.id } });
  await recordAudit({
    actor: input.actor,
    action: "allowlist.remove",
    ip: input.ip,
    targetType: "rule",
    target: formatRule(row),
    details: { id: row.id },
  });
}

/** What a rule would do before it is saved: the existing models it matches and whose decision flips. */
export async function previewRule(input: { text: string; limit?: number }): Promise<RulePreview> {
  const rule = parseRule(input.text);
  const prisma = await db();
  const [rules, modules] = await Promise.all([
    listRules(),
    prisma.module.findMany({ select: { handle: true, source: true }, orderBy: { handle: "asc" } }),
  ]);
  return previewRuleOn(rules, rule, modules, input.limit);
}

/** How many existing models each saved rule matches (the rule editor's list). */
export async function ruleMatchCounts(): Promise<Map<string, number>> {
  const prisma = await db();
  const [rules, modules] = await Promise.all([listRules(), prisma.module.findMany({ select: { handle: true } })]);
  return countRuleMatches(
    rules,
    modules.map((m) => m.handle),
  );
}
