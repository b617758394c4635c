// The savedmodel-js converter against the real fixtures, run by the real client (@tensorflow/tfjs
// loadGraphModel over tf.io.fromMemory): every numeric signature matches its formula, computed here
// independently; the real models run, and two of them equal a plain TF.js computation from their
// checkpoint weights; what TF.js cannot run is refused naming exactly what; corrupted graphs fail
// with their reason, in process and in the sandbox.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { fixturePath } from "../helpers/fixtures.ts";
import { editMessage, lengthDelimited } from "../helpers/protobuf-edit.ts";
import { checkpointOf, convertModelDir, modelArtifacts } from "../../lib/validation/runtimes/savedmodel-js.ts";
import {
  ConversionError,
  UnsupportedModelError,
  convertSavedModel,
  type ConvertedModel,
} from "../../lib/formats/savedmodel/convert.ts";
import { decodeSavedModel } from "../../lib/formats/savedmodel/graph.ts";
import { openTensorBundle } from "../../lib/formats/tensor-bundle.ts";
import { valuesFromBytes } from "../../lib/formats/savedmodel/graph.ts";
import { inspectSavedModel } from "../../lib/formats/savedmodel/inspect.ts";
import { blockingOps } from "../../lib/formats/savedmodel/ops.ts";
import { executeModel } from "../../lib/validation/execute.ts";

let work: string;
before(async () => {
  await tf.setBackend("cpu");
  await tf.ready();
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-savedmodel-js-"));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

type Feeds = Record<string, { values: number[]; shape: number[]; dtype?: "float32" | "int32" }>;

/** Converts `signature` of the model in `dir`, loads it with TF.js and runs it on `feeds` (by signature key). */
async function run(
  dir: string,
  signature: string | undefined,
  feeds: Feeds,
): Promise<{ m: ConvertedModel; out: Record<string, { values: number[]; shape: number[]; dtype: string }> }> {
  const m = convertModelDir(dir, { signature });
  const model = await tf.loadGraphModel(tf.io.fromMemory(modelArtifacts(m)));
  const inputs: Record<string, tf.Tensor> = {};
  for (const i of m.inputs) {
    const f = feeds[i.key];
    assert.ok(f, `a feed for input '${i.key}'`);
    inputs[i.name] = tf.tensor(f.values, f.shape, f.dtype ?? (i.dtype as "float32" | "int32"));
  }
  const result = await model.executeAsync(
    inputs,
    m.outputs.map((o) => o.name),
  );
  const list = Array.isArray(result) ? result : [result];
  const out: Record<string, { values: number[]; shape: number[]; dtype: string }> = {};
  list.forEach(
    (t, k) =>
      (out[m.outputs[k]!.key] = { values: Array.from(t.dataSync() as Float32Array), shape: t.shape, dtype: t.dtype }),
  );
  tf.dispose([...list, ...Object.values(inputs)]);
  model.dispose();
  return { m, out };
}

/** A checkpoint value by key, read from the fixture's variables/ (the formula's constants). */
function variable(dir: string, key: string): number[] {
  const b = openTensorBundle(path.join(dir, "variables", "variables"));
  const e = b.entries.get(key)!;
  return Array.from(
    valuesFromBytes(
      e.dtype,
      b.bytesOf(key),
      e.shape.reduce((a, c) => a * c, 1),
      key,
    ).values as Float32Array,
  );
}

const close = (actual: number[], expected: number[], tol = 1e-6, what = "") => {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  actual.forEach((a, k) =>
    assert.ok(
      Math.abs(a - expected[k]!) <= tol * Math.max(1, Math.abs(expected[k]!)),
      `${what}[${k}]: ${a} vs ${expected[k]}`,
    ),
  );
};

const X = [-1.5, 0, 2, 7.25];
const scalar = (v: number, dtype?: "float32" | "int32") => ({ values: [v], shape: [], dtype });

test("TF2 fixtures from tfjs-node: times_three_float 3x, times_two_int 2x, multiple signatures 3x and 2x", async () => {
  const three = fixturePath("tfjs-node-saved_model", "times_three_float");
  for (const v of X)
    close((await run(three, undefined, { x: scalar(v) })).out.output_0!.values, [3 * v], 1e-6, "times_three_float");
  const two = fixturePath("tfjs-node-saved_model", "times_two_int");
  for (const v of [-7, 0, 5, 123456]) {
    const r = await run(two, undefined, { x: scalar(v, "int32") });
    assert.equal(r.out.output_0!.dtype, "int32");
    assert.deepEqual(r.out.output_0!.values, [2 * v]);
  }
  const multi = fixturePath("tfjs-node-saved_model", "module_with_multiple_signatures");
  close(
    (await run(multi, "serving_default", { x: scalar(4.5) })).out.output_0!.values,
    [13.5],
    1e-6,
    "serving_default",
  );
  close((await run(multi, "timestwo", { x: scalar(4.5) })).out.output_0!.values, [9], 1e-6, "timestwo");
});

test("int64, uint8 and multi-output fixtures match the formulas their variables give", async () => {
  const i64 = fixturePath("tfjs-node-saved_model", "int64_multiply");
  const k64 = variable(i64, "v1/.ATTRIBUTES/VARIABLE_VALUE")[0]! * variable(i64, "v2/.ATTRIBUTES/VARIABLE_VALUE")[0]!;
  const r64 = await run(i64, undefined, { x: { values: [5, -3], shape: [2], dtype: "int32" } });
  assert.equal(r64.m.inputs[0]!.tfDtype, "DT_INT64");
  assert.deepEqual(r64.out.output_0!.values, [5 * k64, -3 * k64]);
  const u8 = fixturePath("tfjs-node-saved_model", "uint8_multiply");
  const k8 = variable(u8, "v1/.ATTRIBUTES/VARIABLE_VALUE")[0]! * variable(u8, "v2/.ATTRIBUTES/VARIABLE_VALUE")[0]!;
  const r8 = await run(u8, undefined, { x: { values: [200], shape: [1], dtype: "int32" } });
  assert.equal(r8.m.inputs[0]!.tfDtype, "DT_UINT8");
  assert.deepEqual(r8.out.output_0!.values, [200 * k8]);
  // model_multi_output: output_0 = x * two, output_1 = y; model_single_input_multi_output: x * two and x.
  const mo = fixturePath("tfjs-node-saved_model", "model_multi_output");
  const twoMo = variable(mo, "two/.ATTRIBUTES/VARIABLE_VALUE")[0]!;
  const rmo = await run(mo, undefined, { x: scalar(7, "int32"), y: scalar(-4, "int32") });
  assert.deepEqual([rmo.out.output_0!.values, rmo.out.output_1!.values], [[7 * twoMo], [-4]]);
  const so = fixturePath("tfjs-node-saved_model", "model_single_input_multi_output");
  const twoSo = variable(so, "two/.ATTRIBUTES/VARIABLE_VALUE")[0]!;
  const rso = await run(so, undefined, { x: scalar(9, "int32") });
  assert.deepEqual([rso.out.output_0!.values, rso.out.output_1!.values], [[9 * twoSo], [9]]);
});

test("TF Serving half_plus_two/three (TF1 and TF2) and the Hub modules: every numeric signature", async () => {
  const col = { values: X, shape: [4, 1] };
  const half2 = (v: number) => 0.5 * v + 2;
  const half3 = (v: number) => 0.5 * v + 3;
  // TF1 export: x is [None, 1]; the TF2 export fixes it at [1].
  const tf1 = fixturePath("serving-saved_model_half_plus_two_cpu", "00000123");
  close((await run(tf1, "serving_default", { x: col })).out.y!.values, X.map(half2), 1e-6, "TF1 serving_default");
  close(
    (await run(tf1, "regress_x2_to_y3", { inputs: col })).out.outputs!.values,
    X.map(half3),
    1e-6,
    "TF1 regress_x2_to_y3",
  );
  const tf2 = fixturePath("serving-saved_model_half_plus_two_tf2_cpu", "00000123");
  for (const v of X) {
    close(
      (await run(tf2, "serving_default", { x: { values: [v], shape: [1] } })).out.y!.values,
      [half2(v)],
      1e-6,
      "TF2 serving_default",
    );
    close(
      (await run(tf2, "regress_x2_to_y3", { inputs: { values: [v], shape: [1] } })).out.outputs!.values,
      [half3(v)],
      1e-6,
      "TF2 regress_x2_to_y3",
    );
    close(
      (await run(tf2, "classify_x2_to_y3", { inputs: { values: [v], shape: [1] } })).out.scores!.values,
      [half3(v)],
      1e-6,
      "TF2 classify_x2_to_y3",
    );
  }
  const three = fixturePath("serving-saved_model_half_plus_three", "00000123");
  close(
    (await run(three, "serving_default", { x: { values: X, shape: [4] } })).out.y!.values,
    X.map(half3),
    1e-6,
    "half_plus_three",
  );
  close(
    (await run(fixturePath("hub-half_plus_two_v1_extracted"), "default", { default: { values: X, shape: [4] } })).out
      .default!.values,
    X.map(half2),
    1e-6,
    "hub half_plus_two",
  );
  close(
    (await run(fixturePath("hub-module_v1_mini"), "default", { default: { values: X, shape: [4] } })).out.default!
      .values,
    X.map((v) => v + 1),
    1e-6,
    "hub-module_v1_mini",
  );
  close(
    (await run(fixturePath("hub-saved_model_v2_mini"), "serving_default", { x: { values: X, shape: [2, 2] } })).out
      .output_0!.values,
    X.map((v) => v + 1),
    1e-6,
    "hub-saved_model_v2_mini",
  );
});

test("string tf.Example signatures are refused naming ParseExample / ParseExampleV2", () => {
  const cases: Array<[string, string, string]> = [
    [fixturePath("serving-saved_model_half_plus_two_tf2_cpu", "00000123"), "regress_x_to_y", "ParseExampleV2"],
    [fixturePath("serving-saved_model_half_plus_two_tf2_cpu", "00000123"), "classify_x_to_y", "ParseExampleV2"],
    [fixturePath("serving-saved_model_half_plus_two_cpu", "00000123"), "regress_x_to_y", "ParseExample"],
    [fixturePath("serving-saved_model_half_plus_three", "00000123"), "tensorflow/serving/regress", "ParseExample"],
    [fixturePath("tfx-chicago-taxi-keras", "model"), "serving_default", "ParseExampleV2"],
  ];
  for (const [dir, sig, op] of cases) {
    assert.throws(
      () => convertModelDir(dir, { signature: sig }),
      (e: unknown) =>
        e instanceof UnsupportedModelError &&
        e.op === op &&
        e.message.includes(`op ${op} `) &&
        /not supported by TF\.js/.test(e.message),
      `${dir} ${sig}`,
    );
  }
});

test("the TF.Text Hub module is refused naming its custom op TokenizerFromLogits", () => {
  assert.throws(
    () => convertModelDir(fixturePath("tftext-segmenter-hub-module", "model")),
    (e: unknown) => e instanceof UnsupportedModelError && e.op === "TokenizerFromLogits" && /custom op/.test(e.message),
  );
});

test("the counter: reading runs with the checkpoint value; signatures that write variables are refused naming the write", async () => {
  const dir = fixturePath("serving-saved_model_counter", "00000123");
  const r = await run(dir, "get_counter", {});
  assert.deepEqual(r.out.output!.values, variable(dir, "counter"));
  for (const [sig, op] of [
    ["incr_counter", "AssignAdd"],
    ["incr_counter_by", "AssignAdd"],
    ["reset_counter", "Assign"],
  ]) {
    assert.throws(
      () => convertModelDir(dir, { signature: sig }),
      (e: unknown) => e instanceof UnsupportedModelError && e.op === op && /writes a variable/.test(e.message),
      sig,
    );
  }
});

// ---- real models -----------------------------------------------------------------------------------

function seeded(n: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  });
}

function weight(dir: string, key: string): tf.Tensor {
  const b = openTensorBundle(path.join(dir, "variables", "variables"));
  const e = b.entries.get(key);
  assert.ok(e, `checkpoint key ${key}`);
  return tf.tensor(
    valuesFromBytes(
      e.dtype,
      b.bytesOf(key),
      e.shape.reduce((a, c) => a * c, 1),
      key,
    ).values,
    e.shape,
    "float32",
  );
}

test("mlperf-tiny-kws-dscnn equals a plain TF.js DS-CNN built from its checkpoint (1e-5)", async () => {
  const dir = fixturePath("mlperf-tiny-kws-dscnn", "model");
  const input = seeded(2 * 49 * 10, 11);
  const { out, m } = await run(dir, undefined, { input_1: { values: input, shape: [2, 49, 10, 1] } });
  assert.ok(m.stats.frozenVariables > 50);
  const L = (i: number, name: string) => weight(dir, `layer_with_weights-${i}/${name}/.ATTRIBUTES/VARIABLE_VALUE`);
  // Keras BatchNormalization's default epsilon.
  const bn = (x: tf.Tensor4D, i: number) =>
    tf.batchNorm(
      x,
      L(i, "moving_mean") as tf.Tensor1D,
      L(i, "moving_variance") as tf.Tensor1D,
      L(i, "beta") as tf.Tensor1D,
      L(i, "gamma") as tf.Tensor1D,
      0.001,
    );
  const expected = tf.tidy(() => {
    let x = tf.tensor4d(input, [2, 49, 10, 1]);
    x = tf.relu(
      bn(tf.add(tf.conv2d(x, L(0, "kernel") as tf.Tensor4D, [2, 2], "same"), L(0, "bias")) as tf.Tensor4D, 1),
    );
    for (let i = 2; i <= 14; i += 4) {
      x = tf.relu(
        bn(
          tf.add(
            tf.depthwiseConv2d(x, L(i, "depthwise_kernel") as tf.Tensor4D, [1, 1], "same"),
            L(i, "bias"),
          ) as tf.Tensor4D,
          i + 1,
        ),
      );
      x = tf.relu(
        bn(
          tf.add(tf.conv2d(x, L(i + 2, "kernel") as tf.Tensor4D, [1, 1], "same"), L(i + 2, "bias")) as tf.Tensor4D,
          i + 3,
        ),
      );
    }
    x = tf.avgPool(x, [25, 5], [25, 5], "valid");
    const flat = tf.reshape(x, [2, 64]) as tf.Tensor2D;
    return tf.softmax(tf.add(tf.matMul(flat, L(18, "kernel") as tf.Tensor2D), L(18, "bias")));
  });
  assert.deepEqual(out.dense!.shape, [2, 12]);
  close(out.dense!.values, Array.from(expected.dataSync()), 1e-5, "kws");
  expected.dispose();
});

test("mlnet-cifar-cnn (TF1, frozen by its saver's restore trace) equals conv2d + relu + matMul from its checkpoint (1e-5)", async () => {
  const dir = fixturePath("mlnet-cifar-cnn", "model");
  const input = seeded(2 * 32 * 32 * 3, 5);
  const { out, m } = await run(dir, undefined, {
    [decodeSavedModel(fs.readFileSync(path.join(dir, "saved_model.pb")))[0]!.signatures[0]!.inputs[0]!.key]: {
      values: input,
      shape: [2, 32, 32, 3],
    },
  });
  const expected = tf.tidy(() => {
    const conv = tf.relu(
      tf.add(
        tf.conv2d(tf.tensor4d(input, [2, 32, 32, 3]), weight(dir, "Wconv1") as tf.Tensor4D, [2, 2], "valid"),
        weight(dir, "bconv1"),
      ),
    );
    return tf.add(
      tf.matMul(tf.reshape(conv, [2, 5408]) as tf.Tensor2D, weight(dir, "W1") as tf.Tensor2D),
      weight(dir, "b1"),
    );
  });
  const key = m.outputs[0]!.key;
  assert.deepEqual(out[key]!.shape, [2, 10]);
  close(out[key]!.values, Array.from(expected.dataSync()), 1e-5, "cifar");
  expected.dispose();
});

test("the LSTM (StatelessWhile with TensorList ops), the two-input Keras model and the EfficientDet backbone run", async () => {
  const lstm = fixturePath("tfnet-lstm-sequential", "model");
  const seq = seeded(2 * 5 * 3, 3);
  const both = await run(lstm, undefined, { input_1: { values: seq, shape: [2, 5, 3] } });
  assert.ok(both.m.stats.functions >= 2, "the loop's cond and body are in the library");
  assert.deepEqual(both.out.dense!.shape, [2, 1]);
  // Each sequence alone gives the same answer as in the batch: the loop really ran per example.
  for (const k of [0, 1]) {
    const one = await run(lstm, undefined, { input_1: { values: seq.slice(k * 15, k * 15 + 15), shape: [1, 5, 3] } });
    close(one.out.dense!.values, [both.out.dense!.values[k]!], 1e-5, `lstm example ${k}`);
  }
  assert.ok(both.out.dense!.values.every(Number.isFinite));

  const multi = await run(fixturePath("tfrust-keras-multi-input", "model"), undefined, {
    test_in1: { values: seeded(10, 1), shape: [2, 5] },
    test_in2: { values: seeded(10, 2), shape: [2, 5] },
  });
  assert.deepEqual(multi.out.test_out!.shape, [2, 1]);
  assert.ok(
    multi.out.test_out!.values.every((v) => v > 0 && v < 1),
    "a sigmoid output",
  );

  const det = await run(fixturePath("tfex-fake-effdet-lite0-hub", "model"), undefined, {
    input_1: { values: seeded(320 * 320 * 3, 9), shape: [1, 320, 320, 3] },
  });
  const shapes = det.m.outputs.map((o) => det.out[o.key]!.shape);
  assert.equal(shapes.length, 10);
  assert.deepEqual(
    new Set(shapes.map((s) => s.slice(1, 3).join("x"))),
    new Set(["40x40", "20x20", "10x10", "5x5", "3x3"]),
  );
  for (const o of det.m.outputs) assert.ok(det.out[o.key]!.values.every(Number.isFinite), o.key);
});

test("the op report: PrintV2 in tfnet-simple-auto-compile, ParseExampleV2 blocking the TFX model, everything in the KWS model runs", () => {
  const report = (dir: string) =>
    inspectSavedModel(fs.readFileSync(path.join(dir, "saved_model.pb"))).metaGraphs[0]!.ops;
  assert.ok(report(fixturePath("tfnet-simple-auto-compile", "model")).some((o) => o.op === "PrintV2"));
  assert.ok(blockingOps(report(fixturePath("tfx-chicago-taxi-keras", "model"))).some((o) => o.op === "ParseExampleV2"));
  assert.ok(
    blockingOps(report(fixturePath("tftext-segmenter-hub-module", "model"))).some(
      (o) => o.op === "TokenizerFromLogits" && o.support === "custom",
    ),
  );
  const kws = report(fixturePath("mlperf-tiny-kws-dscnn", "model"));
  assert.ok(kws.some((o) => o.op === "Conv2D" && o.support === "tfjs"));
  assert.ok(kws.some((o) => o.op === "StatefulPartitionedCall" && o.support === "converter"));
  assert.ok(kws.some((o) => o.op === "SaveV2" && o.support === "saver"));
});

// ---- corrupted graphs --------------------------------------------------------------------------------

const THREE = () => fixturePath("tfjs-node-saved_model", "times_three_float");
const pbOf = (dir: string) => fs.readFileSync(path.join(dir, "saved_model.pb"));
const LIBRARY_FN = [2, 2, 2, 1]; // SavedModel.meta_graphs / MetaGraphDef.graph_def / GraphDef.library / FunctionDefLibrary.function
const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, k) => x === b[k]);
/** Whether `p` leads towards `target` (a strict prefix of it): only those fields are opened as messages. */
const towards = (target: number[], p: number[]) => p.length < target.length && p.every((x, k) => target[k] === x);

function corrupt(kind: "missing-function" | "dangling-input" | "cyclic-call"): Buffer {
  const pb = pbOf(THREE());
  const names = [...decodeSavedModel(pb)[0]!.graph.functions.keys()];
  if (kind === "missing-function")
    return editMessage(pb, (p) => (same(p, LIBRARY_FN) ? "drop" : towards(LIBRARY_FN, p) ? "descend" : "keep"));
  if (kind === "dangling-input") {
    // The main graph's call node takes `serving_default_x`: point it at a node that does not exist.
    return editMessage(pb, (p, f) =>
      same(p, [2, 2, 1, 3]) && f.wire === 2 && f.value.toString() === "serving_default_x"
        ? [lengthDelimited(3, "no_such_node")]
        : towards([2, 2, 1, 3], p)
          ? "descend"
          : "keep",
    );
  }
  // Every function-valued attribute inside a function body names the function it is in.
  let current = -1;
  return editMessage(pb, (p) => {
    if (same(p, LIBRARY_FN)) {
      current++;
      return "descend";
    }
    if (same(p, [...LIBRARY_FN, 3, 5, 2, 10, 1])) return [lengthDelimited(1, names[current]!)];
    return towards([...LIBRARY_FN, 3, 5, 2, 10, 1], p) ? "descend" : "keep";
  });
}

test("corrupted graphs fail with their reason: a missing function, a dangling input, a cyclic call", () => {
  const vars = checkpointOf(THREE());
  assert.throws(
    () => convertSavedModel(corrupt("missing-function"), vars),
    (e: unknown) =>
      e instanceof ConversionError &&
      /calls function '__inference_signature_wrapper_\w+', which the library does not define/.test(e.message),
  );
  assert.throws(
    () => convertSavedModel(corrupt("dangling-input"), vars),
    (e: unknown) => e instanceof ConversionError && /'no_such_node'.*dangling input/.test(e.message),
  );
  assert.throws(
    () => convertSavedModel(corrupt("cyclic-call"), vars),
    (e: unknown) => e instanceof ConversionError && /calls itself \(cycle: (\S+) -> \1\)/.test(e.message),
  );
});

test("in the sandbox, a corrupted graph ends failed with the reason, not a hang; an unsupported one ends static naming the op", async () => {
  const limits = {
    timeoutMs: 60_000,
    memoryBytes: 1024 * 1024 * 1024,
    backend: "cpu" as const,
    minRuns: 2,
    maxBenchMs: 50,
  };
  for (const kind of ["missing-function", "dangling-input", "cyclic-call"] as const) {
    const dir = path.join(work, kind);
    fs.cpSync(THREE(), dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "saved_model.pb"), corrupt(kind));
    const t0 = performance.now();
    const v = await executeModel(dir, "saved_model", limits);
    assert.equal(v.status, "failed", kind);
    assert.equal(v.level, "static", kind);
    assert.match(v.error ?? "", /^the SavedModel could not be converted: /, kind);
    assert.ok(performance.now() - t0 < limits.timeoutMs, `${kind} ended by itself, not by the timeout`);
  }
  const taxi = await executeModel(fixturePath("tfx-chicago-taxi-keras", "model"), "saved_model", limits);
  assert.equal(taxi.status, "passed");
  assert.equal(taxi.level, "static");
  assert.ok(
    taxi.findings.some(
      (f) => f.op === "ParseExampleV2" && /^not executed by savedmodel-js: op ParseExampleV2 /.test(f.message),
    ),
    JSON.stringify(taxi.findings),
  );
});

test("a jax2tf XlaCallModule and a partitioned variable are refused by name", () => {
  // Rename the multiplication inside times_three_float's function body to XlaCallModule.
  const body = [...LIBRARY_FN, 3, 2];
  const xla = editMessage(pbOf(THREE()), (p, f) =>
    same(p, body) && f.value.toString() === "Mul"
      ? [lengthDelimited(2, "XlaCallModule")]
      : towards(body, p)
        ? "descend"
        : "keep",
  );
  assert.throws(
    () => convertSavedModel(xla, checkpointOf(THREE())),
    (e: unknown) => e instanceof UnsupportedModelError && e.op === "XlaCallModule" && /jax2tf export/.test(e.message),
  );
  // The same model whose checkpoint stores its variable as slices (what a partitioned variable is).
  const real = checkpointOf(THREE())!;
  const sliced = {
    has: real.has,
    read: (key: string) => ({ ...real.read(key), sliced: true, bytes: Buffer.alloc(0) }),
  };
  assert.throws(
    () => convertSavedModel(pbOf(THREE()), sliced),
    (e: unknown) => e instanceof UnsupportedModelError && /is partitioned/.test(e.message),
  );
});
