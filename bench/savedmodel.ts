// `npm run bench:savedmodel`: what running SavedModels without libtensorflow costs, measured on the
// largest real fixture the converter runs (mlperf-tiny-kws-dscnn, a trained DS-CNN, 1.2 MB), with a
// native TF.js graph model of similar size (human-blazeface, 0.6 MB conv net) measured in the same
// process for scale:
//   1. conversion time (saved_model.pb + checkpoint -> TF.js graph model in memory), median;
//   2. load time (tf.loadGraphModel over tf.io.fromMemory) for both models;
//   3. inference latency at batch 1 (p50 of up to 200 runs, at least 10, ~3 s per model) on the cpu and Wasm backends, both models;
//      plus the same DS-CNN written by hand with TF.js ops over the same checkpoint weights (the
//      like-for-like baseline: what the conversion costs against hand-written TF.js);
//   4. a whole sandboxed execution (executeModel: fresh isolated child, conversion, benchmark loop)
//      of both models, wall time.
// Prints medians of BENCH_RUNS repetitions (default 5) and ratios against the TF.js baseline.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import { fixturePath } from "../test/helpers/fixtures.ts";
import { convertModelDir, modelArtifacts } from "../lib/validation/runtimes/savedmodel-js.ts";
import { openTensorBundle } from "../lib/formats/tensor-bundle.ts";
import { valuesFromBytes } from "../lib/formats/savedmodel/graph.ts";
import { executeModel } from "../lib/validation/execute.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const require = createRequire(import.meta.url);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));

const KWS = fixturePath("mlperf-tiny-kws-dscnn", "model");
const BLAZE = fixturePath("human-blazeface");

function blazeArtifacts(): tf.io.ModelArtifacts {
  const manifest = JSON.parse(fs.readFileSync(path.join(BLAZE, "blazeface.json"), "utf8"));
  const bin = fs.readFileSync(path.join(BLAZE, "blazeface.bin"));
  return {
    modelTopology: manifest.modelTopology,
    weightSpecs: manifest.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights),
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    format: manifest.format,
    signature: manifest.signature,
  };
}

/** p50 of at least `n` runs, or as many as fit in `budgetMs` (at least 10): the cpu backend is slow on the baseline. */
async function latency(
  model: tf.GraphModel,
  feeds: Record<string, tf.Tensor>,
  outputs: string[] | undefined,
  n: number,
  budgetMs = 3000,
): Promise<number> {
  // As the sandbox child does: execute() (synchronous), executeAsync() only for dynamic graphs.
  let dynamic = false;
  const run = async () => {
    let out: tf.Tensor | tf.Tensor[];
    try {
      out = dynamic ? await model.executeAsync(feeds, outputs) : model.execute(feeds, outputs);
    } catch (err) {
      if (dynamic || !/dynamic op|executeAsync/i.test((err as Error).message)) throw err;
      dynamic = true;
      out = await model.executeAsync(feeds, outputs);
    }
    const list = Array.isArray(out) ? out : [out];
    await Promise.all(list.map((t) => t.data()));
    tf.dispose(list);
  };
  for (let i = 0; i < 3; i++) await run();
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n && (i < 10 || performance.now() - start < budgetMs); i++) {
    const t0 = performance.now();
    await run();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

/** The KWS DS-CNN written with plain TF.js ops from the checkpoint (as test/integration/savedmodel-js.test.ts checks). */
function handWrittenKws(): (x: tf.Tensor4D) => tf.Tensor {
  const b = openTensorBundle(path.join(KWS, "variables", "variables"));
  const w = new Map<string, tf.Tensor>();
  const L = (i: number, name: string) => {
    const key = `layer_with_weights-${i}/${name}/.ATTRIBUTES/VARIABLE_VALUE`;
    if (!w.has(key)) {
      const e = b.entries.get(key)!;
      w.set(
        key,
        tf.tensor(
          valuesFromBytes(
            e.dtype,
            b.bytesOf(key),
            e.shape.reduce((a, c) => a * c, 1),
            key,
          ).values,
          e.shape,
          "float32",
        ),
      );
    }
    return w.get(key)!;
  };
  // Created here, outside the tidy below, so they outlive each call.
  for (let i = 0; i <= 18; i++)
    for (const n of i === 18 || i % 4 === 0
      ? ["kernel", "bias"]
      : i % 2 === 0
        ? ["depthwise_kernel", "bias"]
        : ["moving_mean", "moving_variance", "beta", "gamma"])
      L(i, n);
  const bn = (x: tf.Tensor4D, i: number) =>
    tf.batchNorm(
      x,
      L(i, "moving_mean") as tf.Tensor1D,
      L(i, "moving_variance") as tf.Tensor1D,
      L(i, "beta") as tf.Tensor1D,
      L(i, "gamma") as tf.Tensor1D,
      0.001,
    );
  return (input) =>
    tf.tidy(() => {
      let x = tf.relu(
        bn(tf.add(tf.conv2d(input, L(0, "kernel") as tf.Tensor4D, [2, 2], "same"), L(0, "bias")) as tf.Tensor4D, 1),
      ) as tf.Tensor4D;
      for (let i = 2; i <= 14; i += 4) {
        x = tf.relu(
          bn(
            tf.add(
              tf.depthwiseConv2d(x, L(i, "depthwise_kernel") as tf.Tensor4D, [1, 1], "same"),
              L(i, "bias"),
            ) as tf.Tensor4D,
            i + 1,
          ),
        ) as tf.Tensor4D;
        x = tf.relu(
          bn(
            tf.add(tf.conv2d(x, L(i + 2, "kernel") as tf.Tensor4D, [1, 1], "same"), L(i + 2, "bias")) as tf.Tensor4D,
            i + 3,
          ),
        ) as tf.Tensor4D;
      }
      const flat = tf.reshape(tf.avgPool(x, [25, 5], [25, 5], "valid"), [input.shape[0], 64]) as tf.Tensor2D;
      return tf.softmax(tf.add(tf.matMul(flat, L(18, "kernel") as tf.Tensor2D), L(18, "bias")));
    });
}

async function eagerLatency(fn: () => tf.Tensor, n: number, budgetMs = 3000): Promise<number> {
  for (let i = 0; i < 3; i++) {
    const t = fn();
    await t.data();
    t.dispose();
  }
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n && (i < 10 || performance.now() - start < budgetMs); i++) {
    const t0 = performance.now();
    const t = fn();
    await t.data();
    t.dispose();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

setWasmPaths(path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + "/");
tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);

// 1. conversion
const convertMs: number[] = [];
let converted = convertModelDir(KWS);
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  converted = convertModelDir(KWS);
  convertMs.push(performance.now() - t0);
}
console.log(
  `SavedModel: ${path.relative(process.cwd(), KWS)}: ${converted.stats.nodes} nodes, ${converted.stats.frozenVariables} frozen variables, ${converted.stats.parameters} parameters, ${converted.stats.inlinedCalls} calls inlined`,
);
console.log(`TF.js baseline: ${path.relative(process.cwd(), BLAZE)} (graph model)`);
console.log(`conversion: median ${fmt(median(convertMs))} ms over ${RUNS} runs`);

// 2 + 3. load and inference, per backend
const rows: string[] = [];
for (const backend of ["cpu", "wasm"] as const) {
  await tf.setBackend(backend);
  await tf.ready();
  const loadKws: number[] = [];
  const loadBlaze: number[] = [];
  let kws!: tf.GraphModel;
  let blaze!: tf.GraphModel;
  for (let i = 0; i < RUNS; i++) {
    let t0 = performance.now();
    kws = await tf.loadGraphModel(tf.io.fromMemory(modelArtifacts(converted)));
    loadKws.push(performance.now() - t0);
    t0 = performance.now();
    blaze = await tf.loadGraphModel(tf.io.fromMemory(blazeArtifacts()));
    loadBlaze.push(performance.now() - t0);
  }
  const kwsIn = { [converted.inputs[0]!.name]: tf.randomUniform([1, 49, 10, 1], -1, 1) };
  const blazeIn = { [blaze.inputs[0]!.name]: tf.randomUniform([1, 256, 256, 3], -1, 1) };
  const pK: number[] = [];
  const pB: number[] = [];
  const pH: number[] = [];
  const hand = handWrittenKws();
  for (let i = 0; i < (backend === "cpu" ? 1 : RUNS); i++) {
    pK.push(
      await latency(
        kws,
        kwsIn,
        converted.outputs.map((o) => o.name),
        200,
      ),
    );
    pH.push(await eagerLatency(() => hand(Object.values(kwsIn)[0] as tf.Tensor4D), 200));
    pB.push(await latency(blaze, blazeIn, undefined, 200));
  }
  const k = median(pK);
  const h = median(pH);
  const b = median(pB);
  rows.push(
    `${backend.padEnd(5)} load ${fmt(median(loadKws))} ms (TF.js model ${fmt(median(loadBlaze))} ms) | inference p50 batch 1: converted SavedModel ${fmt(k)} ms vs the same DS-CNN hand-written in TF.js ops ${fmt(h)} ms (${(k / h).toFixed(2)}x); ` +
      `for scale, the blazeface TF.js graph model ${fmt(b)} ms (a larger model: ${(k / b).toFixed(2)}x)`,
  );
  tf.dispose([...Object.values(kwsIn), ...Object.values(blazeIn)]);
}
for (const r of rows) console.log(r);

// 4. a whole sandboxed execution
const limits = {
  timeoutMs: 600_000,
  memoryBytes: 2048 * 1024 * 1024,
  backend: "wasm" as const,
  minRuns: 20,
  maxBenchMs: 200,
};
const blazeDir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "hubkeep-bench-blaze-"));
fs.copyFileSync(path.join(BLAZE, "blazeface.json"), path.join(blazeDir, "model.json"));
fs.copyFileSync(path.join(BLAZE, "blazeface.bin"), path.join(blazeDir, "blazeface.bin"));
const wallK: number[] = [];
const wallB: number[] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    let t0 = performance.now();
    const v = await executeModel(KWS, "saved_model", limits);
    if (v.level !== "executed")
      throw new Error(`the SavedModel did not execute: ${v.error ?? JSON.stringify(v.findings)}`);
    wallK.push(performance.now() - t0);
    t0 = performance.now();
    const w = await executeModel(blazeDir, "tfjs_graph", limits);
    if (w.level !== "executed") throw new Error(`the TF.js model did not execute: ${w.error}`);
    wallB.push(performance.now() - t0);
  }
} finally {
  fs.rmSync(blazeDir, { recursive: true, force: true });
}
console.log(
  `sandboxed execution (fresh child, ${limits.minRuns}+ timed runs, wasm): SavedModel ${fmt(median(wallK))} ms, TF.js graph model ${fmt(median(wallB))} ms, ratio ${(median(wallK) / median(wallB)).toFixed(2)}x`,
);
