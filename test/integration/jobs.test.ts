// The job queue on the test database (PGlite shared with Prisma, or PostgreSQL): schema-checked
// payloads, retry with backoff, permanent failures, graceful stop.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { setupTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { startQueue, type Queue } from "../../lib/jobs/queue.ts";
import { startWorker, type JobEvent, type Worker } from "../../lib/jobs/worker.ts";
import { defineJob, PermanentJobError } from "../../lib/jobs/define-job.ts";

let t: TestDatabase;
let queue: Queue;
let worker: Worker | undefined;
const events: JobEvent[] = [];
const calls: Record<string, unknown[]> = { echo: [], flaky: [], broken: [], slow: [] };
let flakyFailures = 1;
let slowDone = false;

const echo = defineJob({
  name: "test-echo",
  schema: z.object({ versionId: z.string().min(1), n: z.number().int() }),
  async handle(input) {
    calls.echo!.push(input);
    // The queue shares its database with Prisma: prove both work inside a handler.
    await t.handle.prisma.auditEvent.create({ data: { action: "test.echo", target: input.versionId } });
    return { doubled: input.n * 2 };
  },
});
const flaky = defineJob({
  name: "test-flaky",
  schema: z.object({ id: z.string() }),
  retryDelaySeconds: 1,
  async handle(input) {
    calls.flaky!.push(input);
    if (flakyFailures-- > 0) throw new Error("upstream reset the connection");
  },
});
const broken = defineJob({
  name: "test-broken",
  schema: z.object({ id: z.string() }),
  retryDelaySeconds: 1,
  async handle(input) {
    calls.broken!.push(input);
    throw new PermanentJobError("model failed validation");
  },
});
const slow = defineJob({
  name: "test-slow",
  schema: z.object({ ms: z.number() }),
  async handle(input) {
    calls.slow!.push(input);
    await new Promise((r) => setTimeout(r, input.ms));
    slowDone = true;
  },
});

async function waitFor(pred: () => boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The worker reports an outcome before pg-boss records it: wait for the recorded state. */
async function settled(name: string, id: string, state: string) {
  const end = Date.now() + 20_000;
  for (;;) {
    const job = await queue.boss.getJobById(name, id);
    if (job?.state === state) return job;
    if (Date.now() > end) throw new Error(`job ${id} is ${job?.state}, expected ${state}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  t = await setupTestDatabase();
  queue = await startQueue(t.handle, { supervise: false });
  worker = await startWorker(queue, [echo, flaky, broken, slow], {
    pollingIntervalSeconds: 0.5,
    onEvent: (e) => events.push(e),
  });
});
after(async () => {
  await worker?.stop();
  await queue.stop({ graceful: false, timeoutMs: 2000 });
  await t.drop();
});

test("a job runs with its parsed input and completes", async () => {
  const id = await queue.enqueue(echo, { versionId: "v1", n: 21 });
  assert.ok(id);
  await waitFor(() => events.some((e) => e.id === id && e.outcome === "completed"), 20_000, "echo");
  assert.deepEqual(calls.echo, [{ versionId: "v1", n: 21 }]);
  const job = await settled(echo.name, id, "completed");
  assert.deepEqual(job.output, { doubled: 42 });
  assert.equal(await t.handle.prisma.auditEvent.count({ where: { action: "test.echo", target: "v1" } }), 1);
});

test("enqueue refuses a payload that fails the schema", async () => {
  await assert.rejects(queue.enqueue(echo, { versionId: "", n: 1.5 }), {
    status: 422,
    message: /invalid test-echo payload/,
  });
});

test("a payload that fails the schema in the worker fails permanently, without retries", async () => {
  const id = await queue.boss.send(echo.name, { versionId: 42 });
  await waitFor(() => events.some((e) => e.id === id && e.outcome === "failed"), 20_000, "bad payload");
  const job = await settled(echo.name, id!, "failed");
  assert.equal(job.retryCount, 0);
  assert.match(JSON.stringify(job.output), /invalid payload: versionId/);
  assert.equal(calls.echo!.length, 1, "the handler never saw it");
});

test("a thrown error is retried with backoff and then succeeds", async () => {
  const id = await queue.enqueue(flaky, { id: "f1" });
  await waitFor(() => events.some((e) => e.id === id && e.outcome === "completed"), 30_000, "flaky retry");
  const outcomes = events.filter((e) => e.id === id).map((e) => e.outcome);
  assert.deepEqual(outcomes, ["retry", "completed"]);
  const job = await settled(flaky.name, id!, "completed");
  assert.equal(job.retryCount, 1);
  assert.equal(job.retryBackoff, true);
});

test("PermanentJobError fails at once", async () => {
  const id = await queue.enqueue(broken, { id: "b1" });
  await waitFor(() => events.some((e) => e.id === id && e.outcome === "failed"), 20_000, "broken");
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(calls.broken!.length, 1, "not retried");
  assert.equal((await settled(broken.name, id!, "failed")).retryCount, 0);
});

test("stop waits for the job in flight", async () => {
  await queue.enqueue(slow, { ms: 1500 });
  await waitFor(() => calls.slow!.length === 1, 20_000, "slow start");
  assert.equal(slowDone, false);
  await worker!.stop();
  await queue.stop({ graceful: true, timeoutMs: 10_000 });
  assert.equal(slowDone, true, "the in-flight job finished before stop returned");
  worker = undefined;
});
