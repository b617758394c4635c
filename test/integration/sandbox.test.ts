// The validation sandbox, attacked directly: a hostile child cannot read outside its model, write
// outside its temp folder, reach the network or start processes; a model that allocates too much is
// killed at the memory cap, one that never ends at the timeout; nothing is left behind. Then the
// real TF.js fixtures run in it to level `executed`, with benchmark rows.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import { runInSandbox, tfjsNodeAvailable } from "../../lib/validation/sandbox/run.ts";
import { executeModel } from "../../lib/validation/execute.ts";
import {
  hostileScript,
  writeFillModel,
  writeForeverModel,
  writeNanModel,
  writeUnknownRankModel,
} from "../helpers/hostile-models.ts";
import { createTestWorld, type TestWorld } from "../helpers/world.ts";
import { fixturePath, listFixtureFiles } from "../helpers/fixtures.ts";
import { packTarGz } from "../../lib/archive/pack.ts";
import { publishVersion } from "../../lib/models/versions.ts";
import { validateVersion } from "../../lib/models/validate-version.ts";
import { JobBudgetError } from "../../lib/jobs/define-job.ts";

const MiB = 1024 * 1024;
let world: TestWorld;
let work: string;
let privateTmp: string;
let t: TestWorld["db"];
let store: TestWorld["store"];

before(async () => {
  // Every sandbox and extraction of this file uses a private TMPDIR, so "nothing left" is exact.
  world = await createTestWorld({ name: "sandbox-test", privateTmp: true, store: true });
  ({ work, tmp: privateTmp, db: t, store } = world);
});

after(() => world?.close());

function sandboxProcesses(): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes(privateTmp)) found.push(`${pid}: ${cmd.replace(/\0/g, " ").slice(0, 200)}`);
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

function assertNothingLeft() {
  // Each run writes its bundles into its own folder and removes it: nothing may stay.
  assert.deepEqual(fs.readdirSync(privateTmp), [], "no temp folders are left");
  assert.deepEqual(sandboxProcesses(), [], "no sandbox processes are left");
  const cgroups = fs.existsSync("/sys/fs/cgroup/memory")
    ? fs.readdirSync("/sys/fs/cgroup/memory").filter((d) => d.startsWith(`hubkeep-sandbox-${process.pid}-`))
    : [];
  assert.deepEqual(cgroups, [], "no cgroups are left");
}

const limits = { timeoutMs: 60_000, memoryBytes: 1024 * MiB };

test("a hostile child can read only its model, write only its temp folder, and reach no network or process", async () => {
  const modelDir = writeNanModel(path.join(work, "hostile-model"));
  const secretFile = path.join(work, "secret-db-url.txt");
  fs.writeFileSync(secretFile, "postgres://admin:hunter2@db/hubkeep");
  const outsideWrite = path.join(work, "pwned.txt");
  let connections = 0;
  const canary = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => canary.listen(0, "127.0.0.1", r));
  const canaryPort = (canary.address() as net.AddressInfo).port;
  const scriptDir = path.join(work, "script");
  fs.mkdirSync(scriptDir);
  const script = path.join(scriptDir, "hostile.mjs");
  fs.writeFileSync(script, hostileScript({ secretFile, outsideWrite, canaryPort }));
  // The same canary is reachable from this (host) namespace: the check below is not vacuous.
  await new Promise<void>((resolve, reject) => net.connect(canaryPort, "127.0.0.1", resolve).on("error", reject));
  await new Promise((r) => setTimeout(r, 50));
  const before = connections;
  try {
    const out = await runInSandbox(
      { runtime: "tfjs", backend: "cpu", format: "tfjs_graph", modelDir },
      { ...limits, script },
    );
    assert.equal(out.kind, "result", JSON.stringify(out).slice(0, 500));
    if (out.kind !== "result" || out.result.ok) throw new Error("unexpected");
    const report = JSON.parse(out.result.error) as Record<string, unknown>;
    console.log("hostile child report:", JSON.stringify(report), Math.round(out.wallMs), "ms");
    assert.equal(report.readOwnModel, "allowed", "it can read its own model");
    assert.equal(report.writeOwnTemp, "allowed", "it can write its own temp folder");
    assert.equal(report.readSecret, "ERR_ACCESS_DENIED");
    assert.equal(report.readEtc, "ERR_ACCESS_DENIED");
    assert.equal(report.writeOutside, "ERR_ACCESS_DENIED");
    assert.equal(report.spawn, "ERR_ACCESS_DENIED");
    assert.equal(report.worker, "ERR_ACCESS_DENIED");
    assert.notEqual(report.tcp, "allowed", "no TCP connection");
    assert.deepEqual(report.env, [], "the environment is empty");
    assert.ok(!fs.existsSync(outsideWrite));
    assert.match(out.isolation.network, /^isolated: /, `network isolation in force: ${out.isolation.network}`);
    assert.equal(out.isolation.env, "empty");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(connections - before, 0, "the canary saw no connection from the sandbox");
  } finally {
    canary.close();
  }
  assertNothingLeft();
});

test("a model that allocates past the memory cap is killed", async () => {
  const dir = writeFillModel(path.join(work, "fill"), 8192); // 256 MiB of float32 at run time
  const out = await runInSandbox(
    { runtime: "tfjs", backend: "wasm", format: "tfjs_graph", modelDir: dir },
    { timeoutMs: 60_000, memoryBytes: 160 * MiB },
  );
  assert.equal(out.kind, "killed", JSON.stringify(out).slice(0, 400));
  if (out.kind === "killed") assert.equal(out.reason, "memory");
  // The same model with room enough runs: the kill was the cap, not a broken model.
  const small = writeFillModel(path.join(work, "fill-small"), 64);
  const ok = await runInSandbox(
    { runtime: "tfjs", backend: "wasm", format: "tfjs_graph", modelDir: small, minRuns: 3, maxBenchMs: 50 },
    { timeoutMs: 60_000, memoryBytes: 160 * MiB },
  );
  assert.equal(ok.kind, "result");
  assertNothingLeft();
});

test("a model that never finishes is killed at the timeout", async () => {
  const dir = writeForeverModel(path.join(work, "forever"));
  const started = Date.now();
  const out = await runInSandbox(
    { runtime: "tfjs", backend: "cpu", format: "tfjs_graph", modelDir: dir },
    { timeoutMs: 3000, memoryBytes: 512 * MiB },
  );
  assert.equal(out.kind, "killed", JSON.stringify(out).slice(0, 400));
  if (out.kind === "killed") assert.equal(out.reason, "timeout");
  assert.ok(Date.now() - started < 15_000);
  assertNothingLeft();
});

test("non-finite outputs and unknown-rank inputs fail with a reason an ML engineer understands", async () => {
  const nan = await executeModel(writeNanModel(path.join(work, "nan")), "tfjs_graph", {
    ...limits,
    backend: "wasm",
    minRuns: 3,
    maxBenchMs: 50,
  });
  assert.equal(nan.status, "failed");
  assert.equal(nan.level, "executed", "it did run");
  assert.match(nan.error!, /output 'out' is not finite on a synthetic input in \[-1, 1\] \(1 NaN, 0 infinite values\)/);
  const rank = await executeModel(writeUnknownRankModel(path.join(work, "rank")), "tfjs_graph", {
    ...limits,
    backend: "wasm",
  });
  assert.equal(rank.status, "failed");
  assert.equal(rank.level, "static", "never 'executed' for a model that did not run");
  assert.equal(rank.error, "signature input 'images' has unknown rank: cannot synthesise an input");
  assertNothingLeft();
});

async function publishDir(dir: string, handle: string) {
  const entries = listFixtureFiles(dir).map((rel) => {
    const bytes = fs.readFileSync(path.join(dir, rel));
    return { path: rel, size: bytes.length, open: () => Readable.from([bytes]) };
  });
  const primary = await store.put(packTarGz(entries));
  return (
    await publishVersion({
      handle,
      version: 1,
      format: "tfjs_graph",
      source: { kind: "upload", userId: null },
      primary,
      files: [],
      actor: null,
    })
  ).id;
}

test("a validation past its job budget is stopped and recorded failed naming the budget; a stopping worker sends it back to pending", async () => {
  const dir = writeForeverModel(path.join(work, "forever-budget"));
  const budgeted = await publishDir(dir, "internal/sandbox/over-budget");
  const ac = new AbortController();
  const started = Date.now();
  setTimeout(() => ac.abort(new JobBudgetError("validate-version", 2000, "HUBKEEP_VALIDATE_BUDGET_SECONDS")), 2000);
  const r = await validateVersion({ versionId: budgeted, signal: ac.signal, execution: { backend: "cpu" } });
  assert.ok(Date.now() - started < 20_000, "stopped at the budget, not the 300 s sandbox timeout");
  assert.equal(r.status, "failed");
  assert.match(
    JSON.stringify(r),
    /validate-version took longer than its time budget of 2 s \(HUBKEEP_VALIDATE_BUDGET_SECONDS\)/,
  );
  const run = await t.handle.prisma.validationRun.findFirstOrThrow({ where: { versionId: budgeted } });
  assert.equal(run.status, "failed");
  assertNothingLeft();

  // A worker shutting down is not the model's fault: the run closes as `error`, the version is pending again.
  const stopped = await publishDir(dir, "internal/sandbox/worker-stopped");
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 1500);
  await assert.rejects(
    validateVersion({ versionId: stopped, signal: stop.signal, execution: { backend: "cpu" } }),
    /the worker stopped during the validation/,
  );
  const v = await t.handle.prisma.version.findUniqueOrThrow({
    where: { id: stopped },
    include: { validationRuns: true },
  });
  assert.equal(v.status, "pending");
  assert.deepEqual(
    v.validationRuns.map((x) => x.status),
    ["error"],
  );
  assertNothingLeft();
});

async function publishTfjs(dirName: string, modelJson: string, handle: string) {
  const root = fixturePath(dirName);
  const entries = listFixtureFiles(root)
    .filter((f) => f !== "LICENSE" && !(f.endsWith(".json") && f !== modelJson))
    .map((rel) => {
      const bytes = fs.readFileSync(path.join(root, rel));
      return { path: rel === modelJson ? "model.json" : rel, size: bytes.length, open: () => Readable.from([bytes]) };
    });
  const primary = await store.put(packTarGz(entries));
  return (
    await publishVersion({
      handle,
      version: 1,
      format: "tfjs_graph",
      source: { kind: "upload", userId: null },
      primary,
      files: [],
      actor: null,
    })
  ).id;
}

test("the TF.js fixtures run in the sandbox to level 'executed', with benchmark rows", async () => {
  const cases = [
    { dir: "human-blazeface", json: "blazeface.json", inputs: [[1, 256, 256, 3]], batches: [1] },
    { dir: "tfjs-rn-graph-model", json: "model.json", inputs: [[-1, 10]], batches: [1, 8] },
    { dir: "tfjs-graph-model-matmul", json: "model.json", inputs: null, batches: [1] },
  ];
  for (const [i, c] of cases.entries()) {
    const id = await publishTfjs(c.dir, c.json, `internal/sandbox/m${i}`);
    const r = await validateVersion({ versionId: id, execution: { minRuns: 20, maxBenchMs: 300 } });
    assert.equal(r.status, "validated", `${c.dir}: ${r.verdict?.error ?? r.result.error}`);
    assert.equal(r.level, "executed", c.dir);
    const run = await t.handle.prisma.validationRun.findFirstOrThrow({
      where: { versionId: id },
      orderBy: { startedAt: "desc" },
    });
    assert.equal(run.level, "executed");
    assert.equal(run.runtime, "tfjs");
    assert.equal(run.backend, "wasm");
    const exec = run.execution as {
      inputs: Array<{ shape: number[] }>;
      outputs: Array<{ shape: number[]; dtype: string }>;
    };
    if (c.inputs)
      assert.deepEqual(
        exec.inputs.map((x) => x.shape),
        c.inputs,
        c.dir,
      );
    assert.ok(exec.outputs.length > 0);
    assert.match(JSON.stringify(run.isolation), /unshare --net/);
    const benches = await t.handle.prisma.benchmark.findMany({ where: { versionId: id }, orderBy: { batch: "asc" } });
    assert.deepEqual(
      benches.map((b) => b.batch),
      c.batches,
      c.dir,
    );
    for (const b of benches) {
      assert.ok(b.samplesMs.length >= 20, "at least 20 timed runs");
      assert.ok(b.p50Ms > 0 && b.p50Ms <= b.p95Ms && b.p95Ms <= b.p99Ms, `${c.dir}: ${b.p50Ms} ${b.p95Ms} ${b.p99Ms}`);
      assert.ok(b.firstInferenceMs > 0 && b.loadMs > 0 && b.throughputPerSec > 0);
      assert.ok(Number(b.peakRssBytes) > 10 * MiB, "peak RSS of the child is recorded");
      assert.ok(Number(b.archiveSize) > 0);
      assert.equal(b.nodeVersion, process.version);
      assert.ok(b.cpuModel.length > 0);
    }
  }
  const blaze = await t.handle.prisma.benchmark.findFirstOrThrow({
    where: { version: { module: { handle: "internal/sandbox/m0" } } },
  });
  assert.equal(Number(blaze.paramCount), 134732);
  assertNothingLeft();
});

test("a SavedModel is converted and executed by savedmodel-js in the sandbox, with benchmarks naming the converter", async () => {
  const root = fixturePath("tfjs-node-saved_model", "times_three_float");
  const entries = listFixtureFiles(root).map((rel) => {
    const bytes = fs.readFileSync(path.join(root, rel));
    return { path: rel, size: bytes.length, open: () => Readable.from([bytes]) };
  });
  const primary = await store.put(packTarGz(entries));
  const v = await publishVersion({
    handle: "internal/sandbox/sm",
    version: 1,
    format: "saved_model",
    source: { kind: "upload", userId: null },
    primary,
    files: [],
    actor: null,
  });
  const r = await validateVersion({ versionId: v.id });
  assert.equal(r.status, "validated");
  assert.equal(r.level, "executed");
  const run = await t.handle.prisma.validationRun.findFirstOrThrow({ where: { versionId: v.id } });
  assert.equal(run.runtime, "savedmodel-js 1.0.0");
  const execution = run.execution as {
    inputs: Array<{ name: string; shape: number[] }>;
    outputs: Array<{ name: string; shape: number[] }>;
    conversion: { signature: string; frozenVariables: number; inlinedCalls: number };
  };
  assert.deepEqual(
    execution.inputs.map((i) => i.name),
    ["x"],
  );
  assert.deepEqual(
    execution.outputs.map((o) => o.name),
    ["output_0"],
  );
  assert.equal(execution.conversion.signature, "serving_default");
  assert.equal(execution.conversion.frozenVariables, 1);
  assert.ok(execution.conversion.inlinedCalls >= 1);
  const benches = await t.handle.prisma.benchmark.findMany({ where: { versionId: v.id } });
  assert.ok(benches.length >= 1);
  for (const b of benches) assert.equal(b.runtime, "savedmodel-js 1.0.0");
  // tfjs-node is not usable here, so the cross-check against libtensorflow did not run (and says nothing).
  assert.equal(tfjsNodeAvailable().ok, false);
  assert.ok(
    !(run.findings as Array<{ message: string }>).some((f) => /tfjs-node/.test(f.message)),
    JSON.stringify(run.findings),
  );
});
