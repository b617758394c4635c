// Runs job handlers. Used in-process by `npm start` (embedded mode, and by default with Postgres) and
// on its own by `npm run worker`. Stops gracefully: in-flight jobs finish (or are retried later).
import type { Queue } from "./queue.ts";
import { ensureQueue } from "./queue.ts";
import { JobBudgetError, PermanentJobError, type JobDefinition } from "./define-job.ts";

export type Worker = { stop(): Promise<void> };

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
    await queue.boss.work(
      job.name,
      {
        batchSize: 1,
        localConcurrency: concurrency,
        perJobResults: true,
        pollingIntervalSeconds: opts.pollingIntervalSeconds ?? 1,
      },
      async (batch) => {
        const results = [];
        for (const item of batch) {
          const parsed = job.schema.safeParse(item.data);
          if (!parsed.success) {
            const error = `invalid payload: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`;
            opts.onEvent?.({ job: job.name, id: item.id, outcome: "failed", error });
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
          try {
            const output = await job.handle(parsed.data, { jobId: item.id, attempt: 0, signal: own.signal });
            opts.onEvent?.({ job: job.name, id: item.id, outcome: "completed" });
            results.push({ id: item.id, status: "completed" as const, output: output ?? {} });
          } catch (err) {
            const error = err instanceof Error ? err.message : String(err);
            const permanent = err instanceof PermanentJobError;
            opts.onEvent?.({ job: job.name, id: item.id, outcome: permanent ? "failed" : "retry", error });
            if (!permanent) console.error(`hubkeep: job ${job.name} ${item.id} failed (will retry): ${error}`);
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
  }
  return {
    async stop() {
      controller.abort();
      for (const job of jobs) await queue.boss.offWork(job.name).catch(() => {});
    },
  };
}
