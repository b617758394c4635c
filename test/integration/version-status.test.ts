// Version status changes are compare-and-set (transitionVersion): a wrong from-status changes nothing,
// of concurrent callers exactly one wins, approve and reject cannot both win, and two real workers
// given one version validate it once (one ValidationRun, one sandbox run, one audit row).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { createTestWorld, type TestWorld } from "../helpers/world.ts";
import { fixturePath, listFixtureFiles } from "../helpers/fixtures.ts";
import { packTarGz } from "../../lib/archive/pack.ts";
import {
  publishVersion,
  transitionVersion,
  transitionVersionOrThrow,
  VERSION_TRANSITIONS,
} from "../../lib/models/versions.ts";
import { approveVersion, rejectVersion } from "../../lib/models/approval.ts";
import { validateVersion } from "../../lib/models/validate-version.ts";
import { requestRevalidation, validateVersionJob } from "../../lib/models/validation-job.ts";
import { LEASE_EXPIRES_MS } from "../../lib/models/validation-lease.ts";
import { startQueue, setQueue, type Queue } from "../../lib/jobs/queue.ts";
import { startWorker, type JobEvent } from "../../lib/jobs/worker.ts";
import { createUser } from "../../lib/models/users.ts";
import { AppError } from "../../lib/errors.ts";
import type { UserPrincipal } from "../../lib/auth/principal.ts";
import type { VersionStatus } from "../../lib/db/generated/client.ts";

let world: TestWorld;
let t: TestWorld["db"];
let store: TestWorld["store"];
let admin: UserPrincipal;
let n = 0;
const queues: Queue[] = [];

before(async () => {
  world = await createTestWorld({ name: "status", store: true });
  ({ db: t, store } = world);
  const u = await createUser({ email: "boss@example.com", role: "admin", password: "boss-password-1", actor: null });
  admin = { kind: "user", userId: u.id, email: u.email, role: "admin", scope: null, via: "session", namespaces: [] };
});
after(async () => {
  setQueue(undefined);
  for (const q of queues) await q.stop({ graceful: false, timeoutMs: 2000 });
  await world?.close();
});

/** A version row in `status` (no real bytes: for the status-only tests). */
async function bareVersion(status: VersionStatus) {
  const prisma = t.handle.prisma;
  const k = ++n;
  const digest = `sha256:${k.toString(16).padStart(64, "0")}`;
  await prisma.blob.create({ data: { digest, size: 10n, storageKey: `k${k}` } });
  const mod = await prisma.module.upsert({
    where: { handle: "google/status" },
    create: { handle: "google/status", source: "upstream", publisher: "google" },
    update: {},
  });
  const v = await prisma.version.create({
    data: { moduleId: mod.id, number: k, format: "saved_model", status, digest, size: 10n },
  });
  return { id: v.id, handle: "google/status", version: k };
}

/** A real SavedModel the sandbox executes, published as `pending`. */
async function realVersion() {
  const root = fixturePath("tfjs-node-saved_model", "times_two_int");
  const entries = listFixtureFiles(root)
    .filter((f) => f !== "LICENSE" && f !== "PROVENANCE.txt")
    .map((rel) => {
      const bytes = fs.readFileSync(path.join(root, rel));
      return { path: rel, size: bytes.length, open: () => Readable.from([bytes]) };
    });
  const primary = await store.put(packTarGz(entries));
  return publishVersion({
    handle: `internal/status/m${++n}`,
    version: 1,
    format: "saved_model",
    source: { kind: "upload", userId: null },
    primary,
    files: [],
    actor: null,
  });
}

const statusOf = async (id: string) => (await t.handle.prisma.version.findUniqueOrThrow({ where: { id } })).status;
const auditsOf = (target: string, action: string) => t.handle.prisma.auditEvent.count({ where: { target, action } });

test("transitionVersion: a wrong from-status changes nothing; the throwing form names the current status; illegal transitions throw", async () => {
  const v = await bareVersion("failed");
  assert.equal(await transitionVersion(v.id, ["validated"], "approved"), false);
  assert.equal(await statusOf(v.id), "failed");
  await assert.rejects(
    transitionVersionOrThrow(v.id, ["validated"], "approved", {}, { message: (now) => `it is ${now}` }),
    (e: AppError) =>
      e instanceof AppError && e.status === 409 && e.message === "it is failed" && e.details?.status === "failed",
  );
  // Not in the table: a programming error, refused before touching the database.
  await assert.rejects(
    transitionVersion(v.id, ["failed"], "approved"),
    (e: Error) => !(e instanceof AppError) && /failed -> approved is not allowed/.test(e.message),
  );
  await assert.rejects(transitionVersion(v.id, ["rejected"], "pending"), /not allowed/);
  await assert.rejects(transitionVersion(v.id, [], "pending"), /not allowed/);
  assert.equal(await statusOf(v.id), "failed");
  assert.deepEqual(VERSION_TRANSITIONS.rejected, ["deleted"], "a rejected version can only be deleted");
  assert.deepEqual(VERSION_TRANSITIONS.deleted, [], "deleted is final");
  assert.equal(await transitionVersion(v.id, ["failed"], "validating"), true);
  assert.equal(await statusOf(v.id), "validating");
});

test("transitionVersion: of 20 concurrent transitions from pending exactly one wins", async () => {
  const v = await bareVersion("pending");
  const won = await Promise.all(Array.from({ length: 20 }, () => transitionVersion(v.id, ["pending"], "validating")));
  assert.equal(won.filter(Boolean).length, 1);
  assert.equal(await statusOf(v.id), "validating");
});

test("approve and reject racing on one version: exactly one wins, the other is a 409 naming the status it lost to", async () => {
  for (let round = 0; round < 5; round++) {
    const v = await bareVersion("validated");
    const [a, r] = await Promise.allSettled([
      approveVersion({ ...v, note: "ok", actor: admin }),
      rejectVersion({ ...v, reason: "no", actor: admin }),
    ]);
    if (a.status === "fulfilled" && r.status === "fulfilled") {
      // No race happened: the approval committed before the rejection read the version, so the
      // rejection saw `approved` and withdrew it (allowed from approved). Only that order may give two.
      assert.equal(r.value.previousStatus, "approved", `round ${round}: a rejection that saw validated cannot win too`);
      assert.equal(await statusOf(v.id), "rejected");
      continue;
    }
    assert.equal([a, r].filter((x) => x.status === "fulfilled").length, 1, `round ${round}: exactly one decision wins`);
    const winner = a.status === "fulfilled" ? "approved" : "rejected";
    const loser = (a.status === "rejected" ? a : r) as PromiseRejectedResult;
    assert.ok(loser.reason instanceof AppError && loser.reason.status === 409, String(loser.reason));
    assert.equal(loser.reason.details?.status, winner);
    assert.match(loser.reason.message, new RegExp(`is ${winner}`));
    assert.equal(await statusOf(v.id), winner);
    const target = `${v.handle}/${v.version}`;
    assert.equal(
      (await auditsOf(target, "version.approve")) + (await auditsOf(target, "version.reject")),
      1,
      "one audit row, the winner's",
    );
  }
});

test("two validations of one version at once: one runs (one ValidationRun, one audit row), the other is refused and does nothing", async () => {
  const v = await realVersion();
  const [a, b] = await Promise.allSettled([validateVersion({ versionId: v.id }), validateVersion({ versionId: v.id })]);
  assert.equal(
    [a, b].filter((x) => x.status === "fulfilled").length,
    1,
    `${JSON.stringify([a.status, b.status])} ${String((a as PromiseRejectedResult).reason ?? (b as PromiseRejectedResult).reason)}`,
  );
  const loser = (a.status === "rejected" ? a : b) as PromiseRejectedResult;
  assert.ok(
    loser.reason instanceof AppError && loser.reason.status === 409 && loser.reason.details?.lostRace,
    String(loser.reason),
  );
  assert.equal(await t.handle.prisma.validationRun.count({ where: { versionId: v.id } }), 1);
  assert.equal(await statusOf(v.id), "validated");
  assert.equal(await auditsOf(`${v.handle}/1`, "version.validate"), 1);
});

test("two real workers given one version: exactly one ValidationRun and one sandbox run; the other job completes as skipped", async () => {
  const v = await realVersion();
  const a = await startQueue(t.handle, { supervise: false });
  const b = await startQueue(t.handle, { supervise: false });
  queues.push(a, b);
  const events: JobEvent[] = [];
  // Both jobs are queued before either worker starts, so each worker takes one and they run together.
  const ids = [
    await a.enqueue(validateVersionJob, { versionId: v.id }),
    await b.enqueue(validateVersionJob, { versionId: v.id }),
  ];
  const workers = [
    await startWorker(a, [validateVersionJob], { pollingIntervalSeconds: 0.5, onEvent: (e) => events.push(e) }),
    await startWorker(b, [validateVersionJob], { pollingIntervalSeconds: 0.5, onEvent: (e) => events.push(e) }),
  ];
  try {
    const end = Date.now() + 120_000;
    const jobs = async () => Promise.all(ids.map((id) => a.boss.getJobById(validateVersionJob.name, id!)));
    while ((await jobs()).some((j) => j?.state !== "completed")) {
      if (Date.now() > end)
        throw new Error(
          `jobs did not complete: ${JSON.stringify((await jobs()).map((j) => j?.state))}; events ${JSON.stringify(events)}`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
    const outputs = (await jobs()).map((j) => j!.output as { status: string; skipped?: boolean });
    // The loser saw the winner's `validating` (or, if it came late, `validated`) and did nothing.
    const [won, lost] = [outputs.filter((o) => !o.skipped), outputs.filter((o) => o.skipped)];
    assert.deepEqual(won, [{ status: "validated" }], JSON.stringify(outputs));
    assert.equal(lost.length, 1, JSON.stringify(outputs));
    assert.ok(["validating", "validated"].includes(lost[0]!.status), JSON.stringify(outputs));
  } finally {
    for (const w of workers) await w.stop();
  }
  const runs = await t.handle.prisma.validationRun.findMany({ where: { versionId: v.id } });
  assert.equal(runs.length, 1);
  assert.equal(runs[0]!.status, "passed");
  assert.equal(runs[0]!.level, "executed");
  // Benchmarks are written once per sandbox run: all of them belong to the one run.
  const benches = await t.handle.prisma.benchmark.findMany({ where: { versionId: v.id } });
  assert.ok(benches.length > 0 && benches.every((x) => x.validationRunId === runs[0]!.id));
  assert.equal(await statusOf(v.id), "validated");
  assert.equal(await auditsOf(`${v.handle}/1`, "version.validate"), 1);
  assert.ok(!events.some((e) => e.outcome !== "completed"), JSON.stringify(events));
});

test("a validation whose worker died (lease expired) is taken over; a live one is left alone", async () => {
  const prisma = t.handle.prisma;
  const v = await realVersion();
  await prisma.version.update({ where: { id: v.id }, data: { status: "validating" } });
  const dead = await prisma.validationRun.create({ data: { versionId: v.id, status: "running" } });
  // Live (just renewed): the job's validation refuses, and re-validation is a 409.
  await assert.rejects(
    validateVersion({ versionId: v.id, from: ["pending"] }),
    (e: AppError) => e.status === 409 && e.details?.status === "validating",
  );
  const q = await startQueue(t.handle, { supervise: false });
  queues.push(q);
  setQueue(q);
  await assert.rejects(
    requestRevalidation({ handle: v.handle, version: 1, actor: admin }),
    (e: AppError) => e.status === 409 && /being validated now/.test(e.message),
  );
  assert.equal(await prisma.validationRun.count({ where: { versionId: v.id } }), 1);
  // Its worker stopped renewing the lease: the next job validates it, closing the dead run.
  await prisma.version.update({
    where: { id: v.id },
    data: { updatedAt: new Date(Date.now() - LEASE_EXPIRES_MS - 1000) },
  });
  const r = await validateVersion({ versionId: v.id, from: ["pending"] });
  assert.equal(r.status, "validated");
  const closed = await prisma.validationRun.findUniqueOrThrow({ where: { id: dead.id } });
  assert.equal(closed.status, "error");
  assert.match(closed.error ?? "", /abandoned/);
  assert.equal(await prisma.validationRun.count({ where: { versionId: v.id } }), 2);
  // The same through re-validation: an abandoned `validating` version goes back to pending.
  await prisma.version.update({
    where: { id: v.id },
    data: { status: "validating", updatedAt: new Date(Date.now() - LEASE_EXPIRES_MS - 1000) },
  });
  const again = await requestRevalidation({ handle: v.handle, version: 1, actor: admin });
  assert.equal(again.status, "pending");
  assert.equal(await statusOf(v.id), "pending");
});
