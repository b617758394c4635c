// TFLite executed in the real validation sandbox (fresh child, permission model, no network): the
// fixtures compute what they should (add4: x + y; half_plus_two: x / 2 + 2), their tensors are
// recorded, MediaPipe's models (read from node_modules) run with benchmarks, selfie segmentation's
// custom op sends it to LiteRT.js, an op neither runtime has leaves the version `static` naming it,
// quantized inputs are synthesised in range, broken files fail with the runtime's reason, and a TFLite
// child is confined exactly like a TF.js one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { runInSandbox, type SandboxRequest } from "../../lib/validation/sandbox/run.ts";
import {
  chooseRuntime,
  executeModel,
  executeTfliteBytes,
  type ExecutionOptions,
} from "../../lib/validation/execute.ts";
import { notRunOf } from "../../lib/models/signatures.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { dequantizeModel, unknownCustomOpModel } from "../helpers/tflite-models.ts";
import { hostileScript } from "../helpers/hostile-models.ts";

const MiB = 1024 * 1024;
const limits = { timeoutMs: 120_000, memoryBytes: 1024 * MiB };
const opts: ExecutionOptions = { ...limits, backend: "wasm", minRuns: 5, maxBenchMs: 200 };
const require = createRequire(import.meta.url);
const mediapipe = (pkg: string, file: string) =>
  path.join(path.dirname(require.resolve(`@mediapipe/${pkg}/package.json`)), file);
const ADD4 = () => fixturePath("tfjs-tflite-add4", "add4.tflite");
const HALF_PLUS_TWO = () => fixturePath("serving-half_plus_two_tflite", "model.tflite");

let work: string;
let privateTmp: string;
let savedTmp: string | undefined;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-tflite-test-"));
  privateTmp = path.join(work, "tmp");
  fs.mkdirSync(privateTmp);
  // Every sandbox run (and executeTfliteBytes) makes its folders here, so "nothing left" is exact.
  savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = privateTmp;
});

after(() => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  fs.rmSync(work, { recursive: true, force: true });
});

function assertNothingLeft() {
  assert.deepEqual(fs.readdirSync(privateTmp), [], "no temp folders are left");
}

/** Runs one file in one runtime, asking for the first input and output values. */
async function sampled(runtime: "tfjs-tflite" | "litert", file: string, extra: Partial<SandboxRequest> = {}) {
  const out = await runInSandbox(
    {
      runtime,
      backend: "wasm",
      format: "tflite",
      modelDir: path.dirname(file),
      modelFile: path.basename(file),
      minRuns: 3,
      maxBenchMs: 50,
      sampleOutputs: true,
      ...extra,
    },
    limits,
  );
  assert.equal(out.kind, "result", JSON.stringify(out).slice(0, 600));
  if (out.kind !== "result" || !out.result.ok) throw new Error(`did not run: ${JSON.stringify(out).slice(0, 600)}`);
  return out.result;
}

function write(name: string, bytes: Uint8Array): string {
  const file = path.join(work, "models", name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  return file;
}

test("chooseRuntime picks tfjs-tflite for TFLite", () => {
  assert.deepEqual(chooseRuntime("tflite", "wasm"), { runtime: "tfjs-tflite", backend: "wasm", format: "tflite" });
  assert.deepEqual(chooseRuntime("tflite", "cpu"), { runtime: "tfjs-tflite", backend: "wasm", format: "tflite" });
});

test("add4 computes x + y and half_plus_two x / 2 + 2, on the synthetic inputs the sandbox fed them", async () => {
  const add = await sampled("tfjs-tflite", ADD4());
  assert.equal(add.runtime, "tfjs-tflite 0.0.1-alpha.10");
  assert.equal(add.backend, "wasm-simd");
  const [x, y] = add.inputs.map((i) => i.sample!);
  const sum = add.outputs[0]!.sample!;
  assert.equal(sum.length, 4);
  assert.deepEqual(
    sum,
    x!.map((v, k) => Math.fround(v + y![k]!)),
  );
  assert.ok(x!.some((v) => v !== 0) && x!.some((v, k) => v !== y![k]), "the inputs are not trivial");

  const hpt = await sampled("tfjs-tflite", HALF_PLUS_TWO());
  const xs = hpt.inputs[0]!.sample!;
  assert.equal(xs.length, 1);
  assert.deepEqual(hpt.outputs[0]!.sample, [Math.fround(xs[0]! / 2 + 2)]);
  // LiteRT.js runs it too, to the same value.
  const lite = await sampled("litert", HALF_PLUS_TWO());
  assert.equal(lite.runtime, "litert.js 2.5.3");
  assert.deepEqual(lite.outputs[0]!.sample, [Math.fround(lite.inputs[0]!.sample![0]! / 2 + 2)]);
  assertNothingLeft();
});

test("executed: the tensors' names, dtypes and shapes are the run's evidence, with a benchmark", async () => {
  // A fixture folder (add4.tflite beside its LICENSE) names its one model.
  const v = await executeModel(path.dirname(ADD4()), "tflite", opts);
  assert.equal(v.status, "passed", v.error);
  assert.equal(v.level, "executed");
  assert.equal(v.runtime, "tfjs-tflite 0.0.1-alpha.10");
  assert.deepEqual(v.findings, []);
  assert.deepEqual(v.execution, {
    inputs: [
      { name: "serving_default_input_1:0", dtype: "float32", shape: [1, 4] },
      { name: "serving_default_input_2:0", dtype: "float32", shape: [1, 4] },
    ],
    outputs: [{ name: "PartitionedCall:0", dtype: "float32", shape: [1, 4] }],
  });
  const b = v.result!.benchmarks;
  assert.equal(b.length, 1);
  assert.equal(b[0]!.batch, 1);
  assert.ok(b[0]!.samplesMs.length >= 5);
  assert.ok(b[0]!.p50Ms <= b[0]!.p95Ms && b[0]!.p95Ms <= b[0]!.p99Ms);
  assert.equal(v.result!.paramCount, 0);
  assert.match(v.isolation && "network" in v.isolation ? v.isolation.fs : "", /read the model file and \d+ folders/);

  const h = await executeModel(HALF_PLUS_TWO(), "tflite", opts);
  assert.equal(h.level, "executed", h.error);
  assert.deepEqual(h.execution?.inputs, [{ name: "x", dtype: "float32", shape: [1, 1] }]);
  assert.deepEqual(h.execution?.outputs, [{ name: "y", dtype: "float32", shape: [1, 1] }]);
  assert.equal(h.result!.paramCount, 2);
  assertNothingLeft();
});

test("MediaPipe's face detection and hand landmark models execute with benchmarks", async () => {
  const cases = [
    ["face_detection", "face_detection_short_range.tflite", "input", [1, 128, 128, 3], 2],
    ["hands", "hand_landmark_full.tflite", "input_1", [1, 224, 224, 3], 4],
  ] as const;
  for (const [pkg, file, input, shape, outputs] of cases) {
    const v = await executeModel(mediapipe(pkg, file), "tflite", { ...opts, minRuns: 5, maxBenchMs: 1 });
    assert.equal(v.status, "passed", v.error);
    assert.equal(v.level, "executed");
    assert.match(v.runtime, /^tfjs-tflite /);
    assert.deepEqual(v.execution!.inputs, [{ name: input, dtype: "float32", shape: [...shape] }]);
    assert.equal(v.execution!.outputs.length, outputs);
    const r = v.result!;
    const b = r.benchmarks[0]!;
    assert.ok(r.loadMs > 0 && b.firstInferenceMs > 0 && b.p50Ms > 0.1, JSON.stringify(b).slice(0, 200));
    assert.ok(b.throughputPerSec > 0 && b.throughputPerSec < 10_000);
    assert.equal(b.samplesMs.length, 5);
    assert.ok(r.peakRssBytes > 64 * MiB && r.peakRssBytes < limits.memoryBytes);
    assert.ok(r.paramCount! > 100_000);
    assert.ok(r.outputs.every((o) => o.nonFinite.nan + o.nonFinite.inf === 0));
    console.log(
      `${file}: load ${r.loadMs.toFixed(0)} ms, first ${b.firstInferenceMs.toFixed(1)} ms, p50 ${b.p50Ms.toFixed(1)} ms, p95 ${b.p95Ms.toFixed(1)} ms, peak RSS ${Math.round(r.peakRssBytes / MiB)} MiB`,
    );
  }
  assertNothingLeft();
});

test("selfie segmentation's custom op is not in tfjs-tflite: LiteRT.js runs it, and the finding says so", async () => {
  const file = mediapipe("selfie_segmentation", "selfie_segmentation.tflite");
  const v = await executeModel(file, "tflite", opts);
  assert.equal(v.status, "passed", v.error);
  assert.equal(v.level, "executed");
  assert.equal(v.runtime, "litert.js 2.5.3");
  assert.equal(v.findings.length, 1);
  const f = v.findings[0]!;
  assert.equal(f.code, "runtime_fallback");
  assert.equal(f.op, "Convolution2DTransposeBias");
  assert.match(f.message, /Encountered unresolved custom op: Convolution2DTransposeBias/);
  assert.deepEqual(v.execution!.outputs, [{ name: "activation_10", dtype: "float32", shape: [1, 256, 256, 1] }]);
  // The mask really was computed: a sigmoid's values, not zeros nobody wrote.
  const mask = (await sampled("litert", file)).outputs[0]!;
  assert.equal(mask.nonFinite.nan + mask.nonFinite.inf, 0);
  assert.ok(mask.sample!.every((x) => x >= 0 && x <= 1));
  assert.ok(
    mask.sample!.some((x) => x > 0 && x < 1),
    JSON.stringify(mask.sample),
  );
  assertNothingLeft();
});

test("an op neither runtime has leaves the version static, named in both runtimes' words", async () => {
  const v = await executeModel(write("custom.tflite", unknownCustomOpModel()), "tflite", opts);
  assert.equal(v.status, "passed");
  assert.equal(v.level, "static");
  assert.equal(v.execution, undefined);
  assert.deepEqual(
    v.findings.map((f) => [f.code, "runtime" in f ? f.runtime : null, f.op]),
    [
      ["runtime_refused", "tfjs-tflite", "HubkeepNoSuchOp"],
      ["runtime_refused", "litert", "HubkeepNoSuchOp"],
    ],
  );
  assert.match(v.findings[0]!.message, /Encountered unresolved custom op: HubkeepNoSuchOp/);
  // LiteRT.js resolves run() with unwritten outputs here; its error lines are what refuse the model.
  assert.match(v.findings[1]!.message, /Failed to allocate tensors/);
  assert.deepEqual(notRunOf({ findings: v.findings })?.op, "HubkeepNoSuchOp");
  assertNothingLeft();
});

test("quantized inputs are synthesised in range, and their scale and zero point recorded", async () => {
  const file = write("dequantize.tflite", dequantizeModel());
  const r = await sampled("tfjs-tflite", file);
  const [u8, i8] = r.inputs;
  assert.deepEqual(u8!.quantization, { scale: [0.5], zeroPoint: [10], axis: 0 });
  assert.deepEqual(i8!.quantization, { scale: [0.25], zeroPoint: [-3], axis: 0 });
  // Reals in [-1, 1] quantized: uint8 in [8, 12], int8 in [-7, 1].
  assert.ok(
    u8!.sample!.every((q) => Number.isInteger(q) && q >= 8 && q <= 12),
    JSON.stringify(u8!.sample),
  );
  assert.ok(
    i8!.sample!.every((q) => Number.isInteger(q) && q >= -7 && q <= 1),
    JSON.stringify(i8!.sample),
  );
  assert.ok(new Set(u8!.sample).size > 1);
  // The model dequantizes them: real = scale * (q - zero point).
  assert.deepEqual(
    r.outputs[0]!.sample,
    u8!.sample!.map((q) => 0.5 * (q - 10)),
  );
  assert.deepEqual(
    r.outputs[1]!.sample,
    i8!.sample!.map((q) => 0.25 * (q + 3)),
  );
  const v = await executeModel(file, "tflite", opts);
  assert.equal(v.level, "executed", v.error);
  assert.deepEqual(
    v.execution!.inputs.map((i) => [i.name, i.dtype, i.quantization?.scale[0], i.quantization?.zeroPoint[0]]),
    [
      ["q_u8", "uint8", 0.5, 10],
      ["q_i8", "int8", 0.25, -3],
    ],
  );
  assertNothingLeft();
});

test("empty, truncated, random and corrupted files fail with the runtime's reason", async () => {
  const add4 = fs.readFileSync(ADD4());
  const face = fs.readFileSync(mediapipe("face_detection", "face_detection_short_range.tflite"));
  let s = 1;
  const random = Buffer.from(Buffer.alloc(2048).map(() => (s = (s * 1103515245 + 12345) & 0x7fffffff) & 0xff));
  const flipped = Buffer.from(add4);
  for (let i = 16; i < flipped.length; i += 7) flipped[i]! ^= 0xff;
  const cases: Array<[string, Buffer, RegExp]> = [
    ["empty", Buffer.alloc(0), /only 0 bytes/],
    ["truncated add4", add4.subarray(0, add4.length >> 1), /runs past the end of the 476-byte file/],
    ["truncated face detection", face.subarray(0, face.length >> 1), /runs past the end/],
    ["random bytes", random, /file identifier is/],
    ["flipped bytes", flipped, /outside the file|runs past|has size|names/],
  ];
  for (const [what, bytes, flatbuffer] of cases) {
    const v = await executeModel(write(`${what.replace(/ /g, "-")}.tflite`, bytes), "tflite", opts);
    assert.equal(v.status, "failed", what);
    assert.equal(v.level, "static", what);
    assert.deepEqual(v.findings, [], `${what}: no fallback for a broken file`);
    assert.match(
      v.error!,
      /^tfjs-tflite could not load the model: Failed to create TFLiteWebModelRunner: INVALID_ARGUMENT: Can't initialize model/,
      what,
    );
    assert.match(v.error!, flatbuffer, `${what}: ${v.error}`);
  }
  // The bytes path (the validation job's) too.
  const b = await executeTfliteBytes(random, opts);
  assert.equal(b.status, "failed");
  assert.match(b.error!, /Can't initialize model/);
  assertNothingLeft();
});

test("executeTfliteBytes runs a model from memory and leaves nothing behind", async () => {
  const v = await executeTfliteBytes(fs.readFileSync(HALF_PLUS_TWO()), opts);
  assert.equal(v.status, "passed", v.error);
  assert.equal(v.level, "executed");
  assert.deepEqual(v.execution?.outputs, [{ name: "y", dtype: "float32", shape: [1, 1] }]);
  assertNothingLeft();
});

test("a TFLite child is confined like a TF.js one: its model file only, no network, no processes", async () => {
  const secret = path.join(work, "secret-db-url.txt");
  fs.writeFileSync(secret, "postgres://admin:hunter2@db/hubkeep");
  const outsideWrite = path.join(work, "pwned.txt");
  let connections = 0;
  const canary = net.createServer((c) => {
    connections++;
    c.destroy();
  });
  await new Promise<void>((r) => canary.listen(0, "127.0.0.1", r));
  const canaryPort = (canary.address() as net.AddressInfo).port;
  await new Promise<void>((resolve, reject) => net.connect(canaryPort, "127.0.0.1", resolve).on("error", reject));
  await new Promise((r) => setTimeout(r, 50));
  const seen = connections;
  const scriptDir = path.join(work, "script");
  fs.mkdirSync(scriptDir, { recursive: true });
  const script = path.join(scriptDir, "hostile.mjs");
  const beside = path.join(path.dirname(ADD4()), "LICENSE");
  fs.writeFileSync(script, hostileScript({ secretFile: secret, beside, outsideWrite, canaryPort }));
  try {
    const run = async (request: SandboxRequest) => {
      const out = await runInSandbox(request, { ...limits, script });
      if (out.kind !== "result" || out.result.ok) throw new Error(JSON.stringify(out).slice(0, 500));
      return { report: JSON.parse(out.result.error) as Record<string, unknown>, isolation: out.isolation };
    };
    const lite = await run({
      runtime: "tfjs-tflite",
      backend: "wasm",
      format: "tflite",
      modelDir: path.dirname(ADD4()),
      modelFile: path.basename(ADD4()),
    });
    const tfjs = await run({
      runtime: "tfjs",
      backend: "wasm",
      format: "tfjs_graph",
      modelDir: fixturePath("tfjs-graph-model-matmul"),
    });
    console.log("hostile TFLite child report:", JSON.stringify(lite.report));
    const r = lite.report;
    assert.equal(r.readOwnModel, "allowed", "it reads its model file");
    assert.equal(r.readWasm, "allowed", "and its runtime's Wasm build");
    assert.equal(r.readBeside, "ERR_ACCESS_DENIED", "but not the other files of the model's folder");
    assert.equal(r.readSecret, "ERR_ACCESS_DENIED");
    assert.equal(r.readEtc, "ERR_ACCESS_DENIED");
    assert.equal(r.writeOutside, "ERR_ACCESS_DENIED");
    assert.equal(r.writeOwnTemp, "allowed");
    assert.equal(r.spawn, "ERR_ACCESS_DENIED");
    assert.equal(r.worker, "ERR_ACCESS_DENIED");
    assert.notEqual(r.tcp, "allowed");
    assert.deepEqual(r.env, []);
    assert.ok(!fs.existsSync(outsideWrite));
    // The same Node flags as a TF.js child: the permission model, no child process, worker or addon grant.
    const own = (argv: unknown) =>
      (argv as string[]).map((f) => {
        if (!f.startsWith("--allow-fs-write=")) return f;
        assert.ok(f.startsWith(`--allow-fs-write=${privateTmp}/hubkeep-sandbox-`), f);
        return "--allow-fs-write=<its private folder>";
      });
    assert.deepEqual(own(r.execArgv), own(tfjs.report.execArgv));
    const flags = own(r.execArgv);
    assert.ok(flags.includes("--allow-fs-write=<its private folder>"));
    assert.ok(flags.includes("--experimental-permission"), flags.join(" "));
    assert.ok(!flags.some((f) => /^--allow-(child-process|worker|addons)/.test(f)), flags.join(" "));
    assert.ok(flags.some((f) => f.startsWith("--max-old-space-size=")));
    // And the same confinement, in the words the evidence records.
    const { fs: _liteFs, ...liteIsolation } = lite.isolation;
    const { fs: _tfjsFs, ...tfjsIsolation } = tfjs.isolation;
    assert.deepEqual(liteIsolation, tfjsIsolation);
    assert.match(lite.isolation.network, /^isolated: /, lite.isolation.network);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(connections - seen, 0, "the canary saw no connection from the sandbox");
  } finally {
    canary.close();
  }
  assertNothingLeft();
});
