// Download counts per version per day, and the audit trail of authenticated downloads, recorded
// off the hot path: the request only bumps an in-memory counter; a timer flushes the batch (every
// FLUSH_MS, and at shutdown). A failed flush keeps the batch for the next one.
import { db } from "../db/client.ts";
import { recordAuditBatch, type AuditInput } from "./audit.ts";
import type { Principal } from "../auth/principal.ts";

const FLUSH_MS = 2000;
const MAX_PENDING_AUDIT = 50_000;

type State = {
  counts: Map<string, number>;
  audit: Array<AuditInput & { at: Date }>;
  timer: NodeJS.Timeout | null;
  flushing: Promise<void> | null;
};
const g = globalThis as unknown as { __hubkeepDownloads?: State };
const state: State = (g.__hubkeepDownloads ??= { counts: new Map(), audit: [], timer: null, flushing: null });

const DAY_MS = 86_400_000;

/** Records one download (cheap: in memory); the flush writes it later. */
export function countDownload(versionId: string, principal: Principal, target: string, ip: string | null): void {
  const now = Date.now();
  const key = `${versionId}|${Math.floor(now / DAY_MS)}`;
  state.counts.set(key, (state.counts.get(key) ?? 0) + 1);
  if (principal.kind === "user" && state.audit.length < MAX_PENDING_AUDIT) {
    state.audit.push({ at: new Date(now), actor: principal, action: "download", targetType: "version", target, ip });
  }
  if (!state.timer) {
    state.timer = setTimeout(() => {
      state.timer = null;
      void flushDownloads().catch((err: Error) =>
        console.error(`hubkeep: download counters not flushed yet: ${err.message}`),
      );
    }, FLUSH_MS);
    state.timer.unref();
  }
}

/** Writes pending counts and audit events. Safe to call at any time (shutdown, tests). */
export async function flushDownloads(): Promise<void> {
  if (state.flushing) await state.flushing.catch(() => {});
  if (state.counts.size === 0 && state.audit.length === 0) return;
  const counts = state.counts;
  const audit = state.audit;
  state.counts = new Map();
  state.audit = [];
  state.flushing = (async () => {
    const prisma = await db();
    try {
      for (const [key, n] of counts) {
        const [versionId, dayNumber] = key.split("|") as [string, string];
        const day = new Date(Number(dayNumber) * DAY_MS);
        // The daily row and the model's all-time total (the catalogue's sort) move together.
        await prisma.$transaction([
          prisma.downloadCount.upsert({
            where: { versionId_day: { versionId, day } },
            create: { versionId, day, count: n },
            update: { count: { increment: n } },
          }),
          prisma.$executeRaw`UPDATE "Module" SET downloads = downloads + ${n} WHERE id = (SELECT "moduleId" FROM "Version" WHERE id = ${versionId})`,
        ]);
        counts.delete(key);
      }
      await recordAuditBatch(audit);
    } catch (err) {
      // Put back what was not written; the next flush retries.
      for (const [k, n] of counts) state.counts.set(k, (state.counts.get(k) ?? 0) + n);
      state.audit.unshift(...audit.slice(0, MAX_PENDING_AUDIT - state.audit.length));
      throw err;
    }
  })();
  try {
    await state.flushing;
  } finally {
    state.flushing = null;
  }
}
