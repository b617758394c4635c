// The job queue on PostgreSQL (pg-boss). In embedded mode it shares the process's PGlite instance
// with Prisma; with DATABASE_URL it opens its own small pool. Enqueue validates the payload too, so
// a bad payload is refused at the caller rather than failing later in a worker.
import { PgBoss, fromPglite } from "pg-boss";
import type { DbHandle } from "../db/client.ts";
import { AppError } from "../errors.ts";
import type { JobDefinition } from "./define-job.ts";
import { getLogger } from "../log.ts";

export type Queue = {
  boss: PgBoss;
  enqueue<D extends JobDefinition>(
    job: D,
    input: D extends JobDefinition<infer S> ? import("zod").infer<S> : never,
    opts?: { singletonKey?: string; startAfterSeconds?: number },
  ): Promise<string | null>;
  stop(opts?: { graceful?: boolean; timeoutMs?: number }): Promise<void>;
  /** Job name -> the id of this process's worker for it (startWorker), woken by enqueue. */
  localWorkers: Map<string, string>;
};

const created = new WeakMap<PgBoss, Set<string>>();

export async function ensureQueue(boss: PgBoss, job: JobDefinition): Promise<void> {
  let names = created.get(boss);
  if (!names) created.set(boss, (names = new Set()));
  if (names.has(job.name)) return;
  await boss.createQueue(job.name, {
    policy: job.policy ?? "standard",
    retryLimit: job.retryLimit ?? 5,
    retryDelay: job.retryDelaySeconds ?? 5,
    retryBackoff: true,
    retryDelayMax: 600,
    expireInSeconds: job.expireInSeconds ?? 900,
    heartbeatSeconds: job.heartbeatSeconds ?? 30,
  });
  names.add(job.name);
}

/** Starts pg-boss on the process's database. `supervise` runs maintenance (one per deployment is enough). */
export async function startQueue(handle: DbHandle, opts: { supervise?: boolean } = {}): Promise<Queue> {
  const common = { schema: "pgboss", supervise: opts.supervise ?? true, schedule: false, migrate: true } as const;
  const boss =
    handle.kind === "pglite"
      ? new PgBoss({ ...common, db: fromPglite(handle.pglite!), backend: "pglite" })
      : new PgBoss({
          ...common,
          connectionString: handle.connectionString!,
          max: 4,
          application_name: "hubkeep-queue",
        });
  boss.on("error", (err: Error) => getLogger().error({ err }, "job queue error"));
  await boss.start();
  const localWorkers = new Map<string, string>();
  return {
    boss,
    localWorkers,
    async enqueue(job, input, sendOpts) {
      const parsed = job.schema.safeParse(input);
      if (!parsed.success)
        throw new AppError("unprocessable_entity", `invalid ${job.name} payload: ${parsed.error.issues[0]?.message}`);
      await ensureQueue(boss, job);
      const id = await boss.send(job.name, parsed.data as object, {
        ...(sendOpts?.singletonKey ? { singletonKey: sendOpts.singletonKey } : {}),
        ...(sendOpts?.startAfterSeconds ? { startAfter: sendOpts.startAfterSeconds } : {}),
      });
      // A job due now starts at once when this process runs its kind, whatever the polling interval.
      const local = localWorkers.get(job.name);
      if (id && local && !sendOpts?.startAfterSeconds) boss.notifyWorker(local);
      return id;
    },
    async stop(stopOpts) {
      await boss.stop({ graceful: stopOpts?.graceful ?? true, timeout: stopOpts?.timeoutMs ?? 30_000, close: true });
    },
  };
}

type Shared = { __hubkeepQueue?: Promise<Queue> };
const shared = globalThis as Shared;

export function setQueue(queue: Promise<Queue> | Queue | undefined): void {
  shared.__hubkeepQueue = queue === undefined ? undefined : Promise.resolve(queue);
}

/** The process's queue (started by the server entry, the worker entry, or a test). */
export async function getQueue(): Promise<Queue> {
  if (!shared.__hubkeepQueue) throw new AppError("service_unavailable", "the job queue is not running in this process");
  return shared.__hubkeepQueue;
}
