// Retention: rules that delete versions nobody needs any more, by handle glob, in order (the first
// rule whose `match` covers a model decides for it):
//   keepLastApproved n          -> approved versions beyond the newest n approved are deleted;
//   deleteRejectedAfterDays d   -> rejected versions rejected more than d days ago;
//   deleteUnapprovedAfterDays d -> versions never decided (pending … quarantined) older than d days.
// A rule never deletes the latest approved version of a model, nor a version an alias points to.
// `planRetention` is the dry run; `runRetention` deletes exactly what the plan lists (each through
// deleteVersion, so each is audited and sends version.deleted); gc then reclaims the bytes. The rules
// also run daily (the `retention-run` job).
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "./audit.ts";
import type { Principal } from "../auth/principal.ts";
import { handleMatches } from "../auth/permissions.ts";
import { parseHandleGlob } from "../upstream/allowlist.ts";
import { defineSchedule } from "../jobs/schedule.ts";
import { AWAITING } from "./version-status.ts";
import { deleteVersion } from "./approval.ts";
import { aliasedVersionIds } from "./aliases.ts";

export type RetentionRule = {
  match: string;
  keepLastApproved?: number;
  deleteRejectedAfterDays?: number;
  deleteUnapprovedAfterDays?: number;
};

export type RetentionCandidate = { handle: string; version: number; reason: string };

const DAY_MS = 86_400_000;

/** Checks rules: `match` a handle glob, at least one action per rule. Errors name the field. */
export function checkRules(rules: RetentionRule[]): RetentionRule[] {
  return rules.map((r, i) => {
    const match = parseHandleGlob(r.match, `rules.${i}.match`);
    if (
      r.keepLastApproved === undefined &&
      r.deleteRejectedAfterDays === undefined &&
      r.deleteUnapprovedAfterDays === undefined
    )
      throw new AppError(
        "unprocessable_entity",
        `rules.${i}: a rule needs keepLastApproved, deleteRejectedAfterDays or deleteUnapprovedAfterDays`,
      );
    return { ...r, match };
  });
}

export async function getRetentionRules(): Promise<RetentionRule[]> {
  const prisma = await db();
  const rows = await prisma.retentionRule.findMany({ orderBy: { position: "asc" } });
  return rows.map((r) => ({
    match: r.match,
    ...(r.keepLastApproved !== null ? { keepLastApproved: r.keepLastApproved } : {}),
    ...(r.deleteRejectedAfterDays !== null ? { deleteRejectedAfterDays: r.deleteRejectedAfterDays } : {}),
    ...(r.deleteUnapprovedAfterDays !== null ? { deleteUnapprovedAfterDays: r.deleteUnapprovedAfterDays } : {}),
  }));
}

/** Replaces every rule (in the order given), audited with the old and the new rules. */
export async function putRetentionRules(input: {
  rules: RetentionRule[];
  actor: Principal;
  ip?: string | null;
}): Promise<RetentionRule[]> {
  const rules = checkRules(input.rules);
  const prisma = await db();
  const before = await getRetentionRules();
  await prisma.$transaction(async (tx) => {
    await tx.retentionRule.deleteMany({});
    await tx.retentionRule.createMany({
      data: rules.map((r, position) => ({
        position,
        match: r.match,
        keepLastApproved: r.keepLastApproved ?? null,
        deleteRejectedAfterDays: r.deleteRejectedAfterDays ?? null,
        deleteUnapprovedAfterDays: r.deleteUnapprovedAfterDays ?? null,
      })),
    });
  });
  await recordAudit({
    actor: input.actor,
    action: "retention.set",
    ip: input.ip,
    targetType: "retention",
    details: { before, after: rules },
  });
  return rules;
}

/** What the rules would delete now: each version with the rule's reason. Deletes nothing. */
export async function planRetention(now = new Date()): Promise<RetentionCandidate[]> {
  const rules = await getRetentionRules();
  if (rules.length === 0) return [];
  const prisma = await db();
  const modules = await prisma.module.findMany({
    select: {
      handle: true,
      versions: {
        where: { status: { not: "deleted" } },
        select: { id: true, number: true, status: true, createdAt: true, rejectedAt: true },
        orderBy: { number: "desc" },
      },
    },
    orderBy: { handle: "asc" },
  });
  const aliased = await aliasedVersionIds();
  const out: RetentionCandidate[] = [];
  for (const m of modules) {
    const i = rules.findIndex((r) => handleMatches(r.match, m.handle));
    if (i < 0) continue;
    const rule = rules[i]!;
    const named = `rule ${i + 1} (${rule.match})`;
    const approved = m.versions.filter((v) => v.status === "approved"); // newest first
    const latestApproved = approved[0]?.id;
    for (const v of m.versions) {
      if (v.id === latestApproved || aliased.has(v.id)) continue;
      let reason: string | null = null;
      if (v.status === "approved" && rule.keepLastApproved !== undefined) {
        const rank = approved.findIndex((a) => a.id === v.id);
        if (rank >= rule.keepLastApproved)
          reason = `${named}: keeps the last ${rule.keepLastApproved} approved version(s); this is approved #${rank + 1} from the newest`;
      } else if (v.status === "rejected" && rule.deleteRejectedAfterDays !== undefined) {
        const at = v.rejectedAt ?? v.createdAt;
        if (now.getTime() - at.getTime() > rule.deleteRejectedAfterDays * DAY_MS)
          reason = `${named}: rejected more than ${rule.deleteRejectedAfterDays} day(s) ago (${at.toISOString()})`;
      } else if ((AWAITING as readonly string[]).includes(v.status) && rule.deleteUnapprovedAfterDays !== undefined) {
        if (now.getTime() - v.createdAt.getTime() > rule.deleteUnapprovedAfterDays * DAY_MS)
          reason = `${named}: ${v.status} and never approved in ${rule.deleteUnapprovedAfterDays} day(s) (created ${v.createdAt.toISOString()})`;
      }
      if (reason) out.push({ handle: m.handle, version: v.number, reason });
    }
  }
  return out;
}

/**
 * Applies the rules. A dry run lists what would go; otherwise each listed version is deleted with
 * the rule's reason. `only` (the list a dry run showed, confirmed in the admin screen) limits the
 * run to those versions that the rules still select, so a confirmation never deletes more than it
 * showed.
 */
export async function runRetention(input: {
  dryRun: boolean;
  actor: Principal | null;
  ip?: string | null;
  only?: Array<{ handle: string; version: number }>;
  now?: Date;
}): Promise<{ dryRun: boolean; versions: RetentionCandidate[] }> {
  let plan = await planRetention(input.now);
  if (input.only) {
    const allowed = new Set(input.only.map((o) => `${o.handle}@${o.version}`));
    plan = plan.filter((c) => allowed.has(`${c.handle}@${c.version}`));
  }
  if (input.dryRun) return { dryRun: true, versions: plan };
  const deleted: RetentionCandidate[] = [];
  for (const c of plan) {
    try {
      await deleteVersion({ handle: c.handle, version: c.version, reason: c.reason, actor: input.actor, ip: input.ip });
      deleted.push(c);
    } catch (err) {
      // Decided meanwhile (approved, deleted by someone): not this run's to delete.
      if ((err as { code?: string }).code !== "conflict") throw err;
    }
  }
  await recordAudit({
    actor: input.actor,
    action: "retention.run",
    ip: input.ip,
    targetType: "retention",
    details: { deleted: deleted.length, versions: deleted.map((d) => `${d.handle}/${d.version}`) },
  });
  return { dryRun: false, versions: deleted };
}

const RETENTION_PERIOD_SECONDS = 24 * 3600;

/** The daily run: the first a day after a worker starts, later ones a day after each other. */
export const retentionRunJob = defineSchedule({
  name: "retention-run",
  everySeconds: () => RETENTION_PERIOD_SECONDS,
  // Once a day: half a minute late is nothing.
  pollSeconds: 30,
  retryLimit: 3,
  expireInSeconds: 3600,
  async run() {
    const r = await runRetention({ dryRun: false, actor: null });
    return { deleted: r.versions.length };
  },
});
