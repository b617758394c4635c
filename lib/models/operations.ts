// Readings for /metrics that only the database knows, global whichever process answers: versions
// by status, each job queue's depth and oldest waiting job (pg-boss's own tables), storage by
// namespace (lib/models/quotas.ts) and webhook deliveries waiting.
import { db } from "../db/client.ts";
import { VERSION_STATUSES, type VersionStatus } from "./version-status.ts";

export { readStorageByNamespace, type StorageReading } from "./quotas.ts";

/** Webhook deliveries waiting for an attempt. */
export async function countPendingWebhookDeliveries(): Promise<number> {
  const prisma = await db();
  return prisma.webhookDelivery.count({ where: { status: "pending" } });
}

/** How many versions are in each status (every status present, 0 when none). */
export async function countVersionsByStatus(): Promise<Record<VersionStatus, number>> {
  const prisma = await db();
  const rows = await prisma.version.groupBy({ by: ["status"], _count: { _all: true } });
  const out = Object.fromEntries(VERSION_STATUSES.map((s) => [s, 0])) as Record<VersionStatus, number>;
  for (const r of rows) out[r.status] = r._count._all;
  return out;
}

/** One job queue: jobs waiting to run (created or due for retry) and the age of the oldest, in seconds. */
export type QueueReading = { queue: string; depth: number; oldestAgeSeconds: number };

/** Every pg-boss queue's waiting jobs; an empty list before the queue's tables exist. */
export async function readQueueDepths(): Promise<QueueReading[]> {
  const prisma = await db();
  const rows = await prisma
    .$queryRawUnsafe<Array<{ queue: string; depth: number; age: number | null }>>(
      `SELECT q.name AS queue, count(j.id)::int AS depth,
              COALESCE(EXTRACT(EPOCH FROM now() - min(j.created_on)), 0)::float8 AS age
         FROM pgboss.queue q
         LEFT JOIN pgboss.job j ON j.name = q.name AND j.state IN ('created', 'retry')
        GROUP BY q.name`,
    )
    .catch((err: { message?: string }) => {
      if (/relation "pgboss\.\w+" does not exist/.test(err.message ?? "")) return [];
      throw err;
    });
  return rows.map((r) => ({ queue: r.queue, depth: r.depth, oldestAgeSeconds: Math.max(0, r.age ?? 0) }));
}
