// A schedule is a job that queues its own next run. pg-boss's `short` policy allows one waiting job
// of a kind, so every worker starting the schedule, and every run renewing it, still leaves a single
// chain; the next run is queued before this one's work, so a run that dies half-way has a successor.
import { z } from "zod";
import { getLogger } from "../log.ts";
import { defineJob, type JobContext, type JobDefinition } from "./define-job.ts";
import { getQueue, type Queue } from "./queue.ts";

const noInput = z.object({}).strict();

export type ScheduleDefinition = {
  name: string;
  /** Seconds between runs, read at every run; 0 or less turns the schedule off (nothing is queued). */
  everySeconds: () => number;
  /** Seconds from a worker's start to the first run; default `everySeconds()`. */
  firstAfterSeconds?: () => number;
  /** Read before each run's work: false stops the chain until `schedule()` starts it again. Default: always on. */
  continueIf?: () => Promise<boolean>;
  pollSeconds?: number;
  retryLimit?: number;
  expireInSeconds?: number;
  run(ctx: JobContext): Promise<unknown>;
};

export type Schedule = JobDefinition<typeof noInput> & {
  /**
   * Queues a run in `delaySeconds` (default `everySeconds()`) unless one is waiting. Never throws:
   * a process without a queue queues nothing, and a failure is logged (the next start or run retries).
   */
  schedule(delaySeconds?: number, queue?: Queue | null): Promise<void>;
};

export function defineSchedule(def: ScheduleDefinition): Schedule {
  const schedule = async (delaySeconds?: number, queue?: Queue | null): Promise<void> => {
    const every = def.everySeconds();
    if (every <= 0) return;
    let q = queue;
    if (q === undefined) q = await getQueue().catch(() => null);
    if (!q) return;
    const seconds = Math.max(1, Math.round(delaySeconds ?? every));
    await q
      .enqueue(job, {}, { startAfterSeconds: seconds })
      .catch((err: Error) => getLogger().warn({ err, job: def.name }, `could not schedule ${def.name}`));
  };
  const job: Schedule = {
    ...defineJob({
      name: def.name,
      schema: noInput,
      policy: "short",
      ...(def.pollSeconds !== undefined ? { pollSeconds: def.pollSeconds } : {}),
      ...(def.retryLimit !== undefined ? { retryLimit: def.retryLimit } : {}),
      ...(def.expireInSeconds !== undefined ? { expireInSeconds: def.expireInSeconds } : {}),
      async onWorkerStart() {
        await schedule(def.firstAfterSeconds?.());
      },
      async handle(_input, ctx) {
        if (def.everySeconds() <= 0) return { skipped: true };
        if ((await def.continueIf?.()) ?? true) await schedule();
        return def.run(ctx);
      },
    }),
    schedule,
  };
  return job;
}
