// Jobs are declared once, with their input schema. A payload that fails its schema, or a handler
// that throws PermanentJobError, fails permanently; anything else thrown is retried with backoff.
import type { z } from "zod";

export type JobDefinition<S extends z.ZodType = z.ZodType> = {
  name: string;
  schema: S;
  /** Attempts after the first; default 5. */
  retryLimit?: number;
  /** Seconds before the first retry, doubled each time (with jitter); default 5. */
  retryDelaySeconds?: number;
  /** A job still running after this long is failed (and retried); default 15 minutes. */
  expireInSeconds?: number;
  /** A job whose worker stops heartbeating this long (it died) is failed and retried; default 30. */
  heartbeatSeconds?: number;
  /** Jobs of this kind one worker process runs at once (read when the worker starts); default 1. */
  concurrency?: number | (() => number);
  /**
   * The job's time budget in ms (read when each job starts). Past it `ctx.signal` aborts with a
   * JobBudgetError naming the budget; the handler must stop, leave nothing half-written and record
   * the failure. Default: none.
   */
  budgetMs?: () => number;
  /** The environment variable that sets the budget, for the failure message. */
  budgetVariable?: string;
  /**
   * pg-boss's queue policy: `short` allows one job waiting at a time (per singletonKey when given),
   * so a self-renewing schedule cannot fork. Default `standard`.
   */
  policy?: "standard" | "short";
  /**
   * How often an idle worker asks the database for jobs of this kind, in seconds; default 1. A job
   * enqueued in a process whose own worker runs this kind wakes that worker at once, so this only
   * bounds how late other processes' and delayed jobs start. Rare kinds (schedules) poll slowly:
   * every poll is a query, and in embedded mode it runs on the thread that serves downloads.
   */
  pollSeconds?: number;
  /** Runs once when a worker starts this job kind (e.g. to start a schedule); a duplicate is harmless. */
  onWorkerStart?(): Promise<void>;
  handle(input: z.infer<S>, ctx: JobContext): Promise<unknown>;
};

export type JobContext = { jobId: string; attempt: number; signal: AbortSignal };

export function defineJob<S extends z.ZodType>(def: JobDefinition<S>): JobDefinition<S> {
  if (!/^[a-z][a-z0-9-]{1,60}$/.test(def.name)) throw new Error(`job name "${def.name}" must be kebab-case`);
  return def;
}

/** Thrown by a handler for a failure that retrying cannot fix (e.g. a model that fails validation). */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PermanentJobError";
  }
}

/**
 * True when a job's signal aborted because its worker is stopping (not because its budget ran out):
 * not the job's fault, so the handler puts its work back to be retried instead of failing it.
 */
export function stoppedByWorker(signal: AbortSignal | undefined): boolean {
  return Boolean(signal?.aborted && !(signal.reason instanceof JobBudgetError));
}

/** The abort reason of a job past its budget: final, and named in the job's recorded failure. */
export class JobBudgetError extends PermanentJobError {
  constructor(
    readonly job: string,
    readonly budgetMs: number,
    readonly variable: string,
  ) {
    super(`${job} took longer than its time budget of ${Math.round(budgetMs / 1000)} s (${variable})`);
    this.name = "JobBudgetError";
  }
}
