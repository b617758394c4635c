// Scheduled drift checks: every mirrored version is re-checked against its upstream once per
// HUBKEEP_RESYNC_INTERVAL_HOURS (0: off), as POST /api/v1/mirrors/{id}/resync does, but asking
// conditionally where the upstream gave validators (a 304 downloads nothing).
//
// The schedule is a pg-boss job that renews itself: `drift-sweep` runs every SWEEP period (shorter
// when the interval is short), picks the versions whose last check is older than the interval,
// oldest first, at most the share of all mirrored versions that one sweep period owes (so a
// thousand versions are spread over the interval, not checked at once), and queues one
// `drift-check` per version, spread over the period. The queue allows one sweep waiting at a time
// (policy `short`), so every worker may start it and it never forks.
import { z } from "zod";
import { db } from "../db/client.ts";
import { getEnv } from "../env.ts";
import { getQueue } from "../jobs/queue.ts";
import { defineJob, PermanentJobError } from "../jobs/define-job.ts";
import { defineSchedule } from "../jobs/schedule.ts";
import { resyncMirror } from "./mirror-resync.ts";
import { recordAudit } from "./audit.ts";

/** How often the sweep runs at most: every 5 minutes, or a tenth of the interval when that is shorter. */
export function sweepPeriodMs(intervalMs: number): number {
  return Math.max(1000, Math.min(5 * 60_000, Math.floor(intervalMs / 10)));
}

/** How many versions one sweep may queue: its share of the interval, at least one. */
export function sweepBatch(total: number, intervalMs: number, periodMs: number): number {
  return Math.max(1, Math.ceil((total * periodMs) / intervalMs));
}

/** What one sweep queued: the mirror requests to check and, per request, its delay in ms. */
export type SweepPlan = { due: number; total: number; queued: Array<{ mirrorId: string; delayMs: number }> };

/**
 * Picks the mirrored versions due for a check (last checked, else fetched, before now - interval;
 * never deleted ones), oldest first, at most this sweep's share, each with a delay spreading them
 * over the sweep period.
 */
export async function planSweep(now = new Date()): Promise<SweepPlan> {
  const intervalMs = getEnv().jobs.resyncIntervalMs;
  if (intervalMs <= 0) return { due: 0, total: 0, queued: [] };
  const periodMs = sweepPeriodMs(intervalMs);
  const prisma = await db();
  const cutoff = new Date(now.getTime() - intervalMs);
  const mirrored = `
    WITH mirrored AS (
      SELECT DISTINCT ON (v.id) v.id, m.id AS "mirrorId",
             COALESCE(v."upstreamCheckedAt", v."fetchedAt", v."createdAt") AS checked
        FROM "Version" v
        JOIN "MirrorRequest" m ON m."versionId" = v.id AND m.status = 'stored'
       WHERE v.status <> 'deleted' AND v."sourceUrl" IS NOT NULL
       ORDER BY v.id, m."createdAt" ASC
    )`;
  const [counts] = await prisma.$queryRawUnsafe<Array<{ total: number; due: number }>>(
    `${mirrored} SELECT count(*)::int AS total, (count(*) FILTER (WHERE checked < $1))::int AS due FROM mirrored`,
    cutoff,
  );
  const total = counts?.total ?? 0;
  const due = counts?.due ?? 0;
  const batch = sweepBatch(total, intervalMs, periodMs);
  const picked =
    due === 0
      ? []
      : await prisma.$queryRawUnsafe<Array<{ mirrorId: string }>>(
          `${mirrored} SELECT "mirrorId" FROM mirrored WHERE checked < $1 ORDER BY checked ASC LIMIT $2`,
          cutoff,
          batch,
        );
  return {
    due,
    total,
    queued: picked.map((r, i) => ({
      mirrorId: r.mirrorId,
      delayMs: Math.floor((periodMs * i) / Math.max(1, picked.length)),
    })),
  };
}

export const driftCheckJob = defineJob({
  name: "drift-check",
  schema: z.object({ mirrorId: z.string().min(1) }),
  // One waiting check per version (singletonKey = mirror id): a slow upstream cannot pile them up.
  policy: "short",
  retryLimit: 2,
  retryDelaySeconds: 60,
  expireInSeconds: 3600,
  concurrency: 2,
  budgetMs: () => getEnv().jobs.mirrorBudgetMs,
  budgetVariable: "HUBKEEP_MIRROR_BUDGET_SECONDS",
  async handle({ mirrorId }, ctx) {
    try {
      const r = await resyncMirror({ mirrorId, actor: null, conditional: true, signal: ctx.signal });
      return { drift: r.drift, notModified: r.notModified ?? false };
    } catch (err) {
      // A check that could not be made (the upstream failed, or the mirror is gone) counts as this
      // interval's check: audited, and tried again next interval rather than crowding every sweep.
      const message = err instanceof Error ? err.message : String(err);
      await noteFailedCheck(mirrorId, message);
      throw new PermanentJobError(message);
    }
  },
});

async function noteFailedCheck(mirrorId: string, reason: string): Promise<void> {
  const prisma = await db();
  const row = await prisma.mirrorRequest.findUnique({ where: { id: mirrorId }, include: { version: true } });
  if (!row?.version) return;
  await prisma.version.update({ where: { id: row.version.id }, data: { upstreamCheckedAt: new Date() } });
  await recordAudit({
    actor: null,
    action: "mirror.resync",
    outcome: "error",
    targetType: "version",
    target: `${row.handle}/${row.version.number}`,
    details: { scheduled: true, reason },
  });
}

/** The sweep: once a period (sweepPeriodMs), it queues the checks now due, spread over the period. */
export const driftSweepJob = defineSchedule({
  name: "drift-sweep",
  // Off when HUBKEEP_RESYNC_INTERVAL_HOURS is 0; the first sweep a second after a worker starts.
  everySeconds: () => {
    const intervalMs = getEnv().jobs.resyncIntervalMs;
    return intervalMs > 0 ? sweepPeriodMs(intervalMs) / 1000 : 0;
  },
  firstAfterSeconds: () => 1,
  // A sweep a period: its start can be a few seconds late.
  pollSeconds: 5,
  retryLimit: 3,
  async run() {
    const plan = await planSweep();
    const queue = await getQueue();
    for (const q of plan.queued) {
      await queue.enqueue(
        driftCheckJob,
        { mirrorId: q.mirrorId },
        { singletonKey: q.mirrorId, ...(q.delayMs >= 1000 ? { startAfterSeconds: Math.round(q.delayMs / 1000) } : {}) },
      );
    }
    return { due: plan.due, total: plan.total, queued: plan.queued.length };
  },
});
