// Runs job handlers. Used in-process by `npm start` (embedded mode, and by default with Postgres) and
// on its own by `npm run worker`. Stops gracefully: in-flight jobs finish (or are retried later).
import type { Queue } from "./queue.ts";
import { ensureQueue } from "./queue.ts";
import { JobBudgetError, PermanentJobError, type JobDefinition } from "./define-job.ts";
import { recordJob } from "../metrics.ts";
import { getLogger } from "../log.ts";

/** A handler that found nothing to do says so with `{ skipped: true }` (counted apart). */
function isSkipped(output: unknown): boolean {
  return typeof output === "object" && output !== null && (output as { skipped?: unknown }).skipped === true;
}

export type Worker = { stop(): Promise<void> };

type JobLogEvent = "started" | "completed" | "failed" | "retried";

/** One log line per job event: queue, job id, attempt, event, and when it ended its time and outcome. */
function logJob(
  queue: string,
  jobId: string,
  attempt: number,
  event: JobLogEvent,
  end?: { seconds: number; outcome: string; error?: string },
) {
  const fields = {
    type: "job",
    queue,
    jobId,
    attempt,
    event,
    ...(end ? { durationMs: Math.round(end.seconds * 10_000) / 10, outcome: end.outcome } : {}),
    ...(end?.error !== undefined ? { error: end.error } : {}),
  };
  const line = `job ${queue} ${jobId} ${event}${end?.error !== undefined ? `: ${end.error}` : ""}`;
  if (event === "failed") getLogger().error(fields, line);
  else if (event === "retried") getLogger().warn(fields, line);
  else getLogger().info(fields, line);
}

export type JobEvent = { job: string; id: string; outcome: "completed" | "retry" | "failed"; error?: string };

export async function startWorker(
  queue: Queue,
  jobs: JobDefinition[],
  opts: { pollingIntervalSeconds?: number; onEvent?: (e: JobEvent) => void } = {},
): Promise<Worker> {
  const controller = new AbortController();
  for (const job of jobs) {
    await ensureQueue(queue.boss, job);
    const concurrency = typeof job.concurrency === "function" ? job.concurrency() : (job.concurrency ?? 1);
    const workerId = await queue.boss.work(
      job.name,
      {
        batchSize: 1,
        localConcurrency: concurrency,
        perJobResults: true,
        pollingIntervalSeconds: opts.pollingIntervalSeconds ?? job.pollSeconds ?? 1,
      },
      async (batch) => {
        const results = [];
        for (const item of batch) {
          const parsed = job.schema.safeParse(item.data);
          if (!parsed.success) {
            const error = `invalid payload: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`;
            opts.onEvent?.({ job: job.name, id: item.id, outcome: "failed", error });
            logJob(job.name, item.id, item.retryCount, "failed", { seconds: 0, outcome: "failed", error });
            results.push({ id: item.id, status: "deadletter" as const, output: { error } });
            continue;
          }
          // Each job's signal aborts when the worker stops or when the job's budget runs out.
          const own = new AbortController();
          const stop = () => own.abort(controller.signal.reason);
          controller.signal.addEventListener("abort", stop, { once: true });
          const budgetMs = job.budgetMs?.();
          const budget = budgetMs
            ? setTimeout(
                () => own.abort(new JobBudgetError(job.name, budgetMs, job.budgetVariable ?? "its budget")),
                budgetMs,
              )
            : undefined;
          const began = performance.now();
          const seconds = () => (performance.now() - began) / 1000;
          logJob(job.name, item.id, item.retryCount, "started");
          try {
            const output = await job.handle(parsed.data, { jobId: item.id, attempt: 0, signal: own.signal });
            recordJob(job.name, isSkipped(output) ? "skipped" : "completed", seconds());
            logJob(job.name, item.id, item.retryCount, "completed", {
              seconds: seconds(),
              outcome: isSkipped(output) ? "skipped" : "completed",
            });
            opts.onEvent?.({ job: job.name, id: item.id, outcome: "completed" });
            results.push({ id: item.id, status: "completed" as const, output: output ?? {} });
          } catch (err) {
            const error = err instanceof Error ? err.message : String(err);
            const permanent = err instanceof PermanentJobError;
            recordJob(job.name, permanent ? "failed" : "retried", seconds());
            opts.onEvent?.({ job: job.name, id: item.id, outcome: permanent ? "failed" : "retry", error });
            // pg-boss retries a failed attempt until the queue's retry limit, then fails the job.
            const final = permanent || item.retryCount >= (job.retryLimit ?? 5);
            const event = final ? "failed" : "retried";
            logJob(job.name, item.id, item.retryCount, event, { seconds: seconds(), outcome: event, error });
            results.push({
              id: item.id,
              status: permanent ? ("deadletter" as const) : ("failed" as const),
              output: { error },
            });
          } finally {
            clearTimeout(budget);
            controller.signal.removeEventListener("abort", stop);
          }
        }
        return results;
      },
    );
    queue.localWorkers.set(job.name, workerId);
  }
  for (const job of jobs) {
    await job
      .onWorkerStart?.()
      .catch((err: Error) => getLogger().error({ err, queue: job.name }, `job ${job.name}: its start-up step failed`));
  }
  return {
    async stop() {
      controller.abort();
      for (const job of jobs) {
        queue.localWorkers.delete(job.name);
        await queue.boss.offWork(job.name).catch(() => {});
      }
    },
  };
}
