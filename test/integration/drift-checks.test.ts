// Scheduled drift checks with a real worker on a real queue: nobody asks, yet every mirrored version
// is re-checked once per HUBKEEP_RESYNC_INTERVAL_HOURS (here 0.001 h, 3.6 s); the second check asks
// conditionally and the upstream's 304 downloads nothing; when the upstream's bytes change, the
// schedule flags the drift and audits it. The spreading arithmetic is checked on its own.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { createTestWorld, type TestWorld } from "../helpers/world.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { requestMirror } from "../../lib/models/mirror-request.ts";
import { runMirrorFetch } from "../../lib/models/mirror-fetch.ts";
import { planSweep, sweepBatch, sweepPeriodMs } from "../../lib/models/drift-checks.ts";
import { startWorker, type Worker } from "../../lib/jobs/worker.ts";
import { allJobs } from "../../lib/jobs/registry.ts";
import type { FetchPolicy } from "../../lib/upstream/fetcher.ts";

let world: TestWorld;
let worker: Worker | undefined;
let policy: FetchPolicy;
const TFLITE = "tensorflow/lite-model/half_plus_two/1/default";
const SAVED = "google/half_plus_two";

before(async () => {
  world = await createTestWorld({
    name: "drift",
    upstream: true,
    publisher: true,
    store: true,
    queue: true,
    allowlist: ["google/*", "tensorflow/*"],
    env: { HUBKEEP_RESYNC_INTERVAL_HOURS: "0.001" },
  });
  policy = {
    allowedHosts: [`127.0.0.1:${world.up.port}`],
    upstreamBase: world.up.base,
    allowPrivate: true,
    retries: 1,
    backoffMs: 20,
  };
  for (const url of [`https://tfhub.dev/${TFLITE}/1`, `https://tfhub.dev/${SAVED}/1`]) {
    const { mirror } = await requestMirror({ url, actor: world.publisher });
    assert.equal((await runMirrorFetch(mirror.id, { policy })).status, "stored");
  }
});

after(async () => {
  await worker?.stop();
  await world?.close();
});

async function versionOf(handle: string) {
  return world.db.handle.prisma.version.findFirstOrThrow({ where: { module: { handle } } });
}

async function waitFor<T>(what: string, read: () => Promise<T | null | undefined | false>, ms = 60_000): Promise<T> {
  for (const until = Date.now() + ms; ;) {
    const v = await read();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("the spread: a sweep queues its share of the interval, every 5 minutes at most", () => {
  const day = 24 * 3_600_000;
  assert.equal(sweepPeriodMs(day), 5 * 60_000);
  assert.equal(sweepPeriodMs(3600), 1000, "never more often than once a second");
  // 1 000 versions a day, a sweep every 5 minutes: 4 per sweep (288 sweeps cover 1 152 >= 1 000).
  assert.equal(sweepBatch(1000, day, 5 * 60_000), 4);
  assert.ok(sweepBatch(1000, day, 5 * 60_000) * (day / (5 * 60_000)) >= 1000);
  assert.equal(sweepBatch(3, day, 5 * 60_000), 1, "at least one");
});

test("nothing is due right after the mirror: a version's fetch counts as its first check", async () => {
  const plan = await planSweep();
  assert.equal(plan.total, 2);
  assert.equal(plan.due, 0);
  // An interval later both are due, oldest first, spread over the sweep period.
  const later = await planSweep(new Date(Date.now() + 4000));
  assert.equal(later.due, 2);
  assert.equal(later.queued.length, 1, "3.6 s interval, 1 s sweeps: one of two per sweep");
});

test("the schedule re-checks without anyone asking: a full check, then 304s, then the drift", async () => {
  worker = await startWorker(world.queue, allJobs(), { pollingIntervalSeconds: 0.5 });
  const up = world.up;
  const tfliteKey = `${TFLITE}@1`;
  const savedKey = `${SAVED}@1`;
  const fetchesBefore = { tflite: up.fetches.get(tfliteKey) ?? 0, saved: up.fetches.get(savedKey) ?? 0 };
  // First scheduled check of each: a download (no validators yet), which records the ETag.
  await waitFor("both versions checked once", async () => {
    const [a, b] = await Promise.all([versionOf(TFLITE), versionOf(SAVED)]);
    return a.upstreamEtag && b.upstreamEtag && a.upstreamCheckedAt && b.upstreamCheckedAt;
  });
  assert.equal(up.fetches.get(tfliteKey), fetchesBefore.tflite + 1);
  // Later checks ask with If-None-Match: the upstream answers 304 and nothing is downloaded.
  await waitFor(
    "a 304 for each",
    async () => (up.notModified.get(tfliteKey) ?? 0) >= 1 && (up.notModified.get(savedKey) ?? 0) >= 1,
  );
  assert.equal(up.fetches.get(tfliteKey), fetchesBefore.tflite + 1, "no second download of unchanged bytes");
  const audits = await world.db.handle.prisma.auditEvent.findMany({
    where: { action: "mirror.resync", target: `${TFLITE}/1` },
  });
  assert.ok(audits.some((a) => (a.details as { notModified?: boolean }).notModified === true));
  assert.ok(
    audits.every((a) => a.actorId === null),
    "the schedule, not a person",
  );

  // The upstream's bytes change under the same version number.
  const changed = Buffer.concat([
    fs.readFileSync(fixturePath("serving-half_plus_two_tflite", "model.tflite")),
    Buffer.from([0]),
  ]);
  up.overrides.set(tfliteKey, changed);
  try {
    const flagged = await waitFor("the drift to be flagged", async () => {
      const v = await versionOf(TFLITE);
      return v.upstreamDrift ? v : null;
    });
    assert.notEqual(flagged.upstreamDigest, flagged.digest, "the stored bytes stay; the upstream's are named");
    const drift = await world.db.handle.prisma.auditEvent.findFirstOrThrow({
      where: { action: "mirror.drift", target: `${TFLITE}/1` },
    });
    assert.equal((drift.details as { storedDigest: string }).storedDigest, flagged.digest);
    const saved = await versionOf(SAVED);
    assert.equal(saved.upstreamDrift, false, "the unchanged one is not flagged");
  } finally {
    up.overrides.clear();
  }
});
