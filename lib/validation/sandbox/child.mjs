// The sandboxed validation child. Spawned by lib/validation/sandbox/run.ts in a fresh process with
// an empty environment, Node's permission model (read: its model folder and the runtime packages;
// write: its own temp folder; no child processes, no workers, no native addons), no network (when
// the host allows a network namespace), a memory cap and a wall-clock timeout.
//
// Protocol (the parent validates every message with zod; nothing the child says is trusted):
//   stdin:  one JSON line, the request (see requestSchema).
//   stdout: JSON lines: {"type":"progress","stage":...} and exactly one {"type":"result",...}.
// Plain JavaScript: it runs without the TypeScript loader so it needs no more read access.
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { pathToFileURL } from "node:url";
import { z } from "zod";

const requestSchema = z.object({
  runtime: z.enum(["tfjs", "tfjs-node", "savedmodel-js"]),
  backend: z.enum(["wasm", "cpu", "tensorflow"]),
  format: z.enum(["tfjs_graph", "tfjs_layers", "saved_model", "tf1_hub"]),
  modelDir: z.string().min(1),
  wasmDir: z.string().optional(),
  minRuns: z.number().int().min(1).max(1000),
  maxBenchMs: z.number().int().min(1).max(600_000),
  seed: z.number().int(),
  /** savedmodel-js: the bundled converter module (lib/validation/runtimes/bundle.ts). */
  runtimeModule: z.string().optional(),
  signature: z.string().max(256).optional(),
  /** Also report the first output values (for comparing two runtimes). */
  sampleOutputs: z.boolean().optional(),
});

// stdout is the protocol channel only: libraries' console output goes to stderr.
for (const k of ["log", "info", "warn", "debug"]) console[k] = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");

const send = (msg) => process.stdout.write(JSON.stringify(msg) + "\n");
const progress = (stage) => send({ type: "progress", stage });

/** Deterministic uniform [-1, 1) numbers (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

class Finding extends Error {}
/** The model uses something this runtime cannot run: not a failure of the model. */
class Unsupported extends Finding {
  constructor(message, op) {
    super(message);
    this.op = op;
  }
}

function quantile(sorted, q) {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

async function readRequest() {
  const chunks = [];
  for await (const c of process.stdin) {
    chunks.push(c);
    if (Buffer.concat(chunks).includes(10)) break;
  }
  const line = Buffer.concat(chunks).toString("utf8").split("\n")[0];
  return requestSchema.parse(JSON.parse(line));
}

/** Loads tfjs-core with the requested backend. */
async function loadTf(req) {
  if (req.runtime === "tfjs-node") {
    const tf = await import("@tensorflow/tfjs-node");
    return tf.default ?? tf;
  }
  const tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-backend-cpu");
  if (req.backend === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    // No threads: workers are denied by the permission model, and one thread is what we measure.
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    if (req.wasmDir) wasm.setWasmPaths(req.wasmDir.endsWith("/") ? req.wasmDir : req.wasmDir + "/");
  }
  const ok = await tf.setBackend(req.backend);
  if (!ok) throw new Error(`the ${req.backend} backend did not initialise`);
  await tf.ready();
  return tf;
}

/** Reads a TF.js model folder into memory (paths were checked statically; re-checked here). */
function readTfjsArtifacts(dir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
  const specs = [];
  const buffers = [];
  for (const group of manifest.weightsManifest ?? []) {
    for (const p of group.paths) {
      if (p.includes("/") || p.includes("\\") || p === ".." || p === ".") throw new Finding(`weightsManifest path "${p}" is not a plain file name`);
      buffers.push(fs.readFileSync(path.join(dir, p)));
    }
    specs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return { manifest, specs, weightData };
}

/**
 * Why loadLayersModel refused a layers model that passed the static checks (lib/formats/tfjs.ts), said
 * about the model. trainingConfig is never passed to it: compiling a loss or optimizer is not needed to
 * run a model, and a Python-only one would fail a model that runs.
 */
function layersLoadFinding(err) {
  const message = String((err && err.message) || err).slice(0, 500);
  // A kernel the backend lacks is the backend's problem: the parent retries on cpu.
  if (/^Kernel '[^']*' not registered/.test(message)) return err;
  // "Unknown layer: Lambda. This may be due to ...": a custom or Python-only class, not a broken model.
  const unknown = message.match(/^Unknown (layer|activation|initializer|regularizer|constraint): ([^\s.]+)/);
  if (unknown) return new Unsupported(`the layers model uses the ${unknown[1]} '${unknown[2]}', which TF.js does not implement (a custom or Python-only class)`, unknown[2]);
  if (/weights are not set|has no target variable|^Shape mismatch/.test(message)) return new Finding(`the layers model's weights do not match its topology: ${message}`);
  return new Finding(`TF.js could not load the layers model: ${message}`);
}

/** Builds one synthetic input per model input; -1 or unknown dims become 1 (or `batch` for the first). */
function synthesise(tf, inputs, batch, next) {
  const tensors = {};
  const batchable = inputs.length > 0 && inputs.every((i) => Array.isArray(i.shape) && i.shape.length > 0 && (i.shape[0] === -1 || i.shape[0] == null));
  for (const input of inputs) {
    if (!Array.isArray(input.shape) && !input.unknownRankAs) throw new Finding(`signature input '${input.name}' has unknown rank: cannot synthesise an input`);
    const shape = (Array.isArray(input.shape) ? input.shape : input.unknownRankAs).map((d, k) => (d == null || d < 0 ? (k === 0 ? batch : 1) : d));
    const size = shape.reduce((a, b) => a * b, 1);
    if (size > 64 * 1024 * 1024) throw new Finding(`signature input '${input.name}' has shape [${shape}] (${size} elements): too large to synthesise`);
    const dtype = input.dtype ?? "float32";
    let t;
    if (dtype === "float32") t = tf.tensor(Float32Array.from({ length: size }, next), shape, "float32");
    else if (dtype === "int32") t = tf.tensor(Int32Array.from({ length: size }, () => Math.floor((next() + 1) * 2)), shape, "int32");
    else if (dtype === "bool") t = tf.tensor(Uint8Array.from({ length: size }, () => (next() > 0 ? 1 : 0)), shape, "bool");
    else if (dtype === "string") throw new Unsupported(`signature input '${input.key ?? input.name}' is a string tensor: no meaningful input can be synthesised for it`);
    else throw new Finding(`signature input '${input.name}' has dtype ${dtype}: cannot synthesise an input`);
    tensors[input.name] = t;
  }
  return { tensors, batchable };
}

function describe(inputs) {
  return inputs.map((i) => ({ name: i.key ?? i.name, dtype: i.dtype ?? "float32", shape: Array.isArray(i.shape) ? i.shape.map((d) => (d == null ? -1 : d)) : null }));
}

async function runOnce(tf, model, feeds, outputNames) {
  let out;
  if (model.__needsAsync) out = await model.executeAsync(feeds, outputNames);
  else {
    try {
      out = model.execute(feeds, outputNames);
    } catch (err) {
      if (!/dynamic op|executeAsync/i.test(String(err && err.message))) throw err;
      model.__needsAsync = true;
      out = await model.executeAsync(feeds, outputNames);
    }
  }
  const list = Array.isArray(out) ? out : out instanceof tf.Tensor ? [out] : Object.values(out);
  // Force the computation to finish, as a client reading the result would.
  const values = await Promise.all(list.map((t) => t.data()));
  return { list, values };
}

function disposeAll(tf, xs) {
  for (const x of xs) if (x && typeof x.dispose === "function") x.dispose();
}

async function runTfjs(req) {
  progress("init");
  const tf = await loadTf(req);
  const converter = req.format !== "tfjs_layers" ? await import("@tensorflow/tfjs-converter") : null;
  const layers = req.format === "tfjs_layers" ? await import("@tensorflow/tfjs-layers") : null;
  progress("load");
  const t0 = performance.now();
  let model, inputs, outputNames, paramCount, outputKeys = null, conversion = null;
  if (req.runtime === "savedmodel-js") {
    // SavedModel -> TF.js graph model in memory, then the same loader and benchmark as TF.js models.
    const rt = await import(pathToFileURL(req.runtimeModule).href);
    let converted;
    const c0 = performance.now();
    try {
      converted = rt.convertModelDir(req.modelDir, { signature: req.signature });
    } catch (err) {
      if (err && err.name === "UnsupportedModelError") throw new Unsupported(err.message, err.op);
      if (err && (err.name === "ConversionError" || err.name === "AppError")) throw new Finding(`the SavedModel could not be converted: ${err.message}`);
      throw err;
    }
    const convertMs = performance.now() - c0;
    progress("convert");
    try {
      model = await converter.loadGraphModel(tf.io.fromMemory(rt.modelArtifacts(converted)));
    } catch (err) {
      throw new Unsupported(`TF.js could not load the converted graph: ${String((err && err.message) || err).slice(0, 500)}`);
    }
    inputs = converted.inputs.map((i) => ({ name: i.name, key: i.key, dtype: i.dtype, shape: i.shape, unknownRankAs: [1] }));
    outputNames = converted.outputs.map((o) => o.name);
    outputKeys = converted.outputs.map((o) => o.key);
    paramCount = converted.stats.parameters;
    const { ops: _ops, ...stats } = converted.stats;
    conversion = { runtime: rt.RUNTIME, signature: converted.signatureKey, convertMs, ...stats };
  } else {
    const { manifest, specs, weightData } = readTfjsArtifacts(req.modelDir);
    const handler = tf.io.fromMemory({ modelTopology: manifest.modelTopology, weightSpecs: specs, weightData, format: manifest.format, generatedBy: manifest.generatedBy, convertedBy: manifest.convertedBy, signature: manifest.signature, userDefinedMetadata: manifest.userDefinedMetadata, modelInitializer: manifest.modelInitializer });
    if (converter) {
      model = await converter.loadGraphModel(handler);
      inputs = model.inputs.map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape }));
      outputNames = model.outputs.map((o) => o.name);
    } else {
      try {
        model = await layers.loadLayersModel(handler);
      } catch (err) {
        throw layersLoadFinding(err);
      }
      inputs = model.inputs.map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape }));
      // Keras names a model's outputs after the layers that produce them (a Sequential's too).
      outputNames = null;
      outputKeys = model.outputs.map((o) => (o.sourceLayer && o.sourceLayer.name) || o.name);
    }
    paramCount = specs.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  }
  const loadMs = performance.now() - t0;
  const next = rng(req.seed);

  const execute = async (feeds) => {
    if (converter) return runOnce(tf, model, feeds, outputNames);
    const xs = inputs.map((i) => feeds[i.name]);
    const out = model.predict(xs.length === 1 ? xs[0] : xs);
    const list = Array.isArray(out) ? out : [out];
    return { list, values: await Promise.all(list.map((t) => t.data())) };
  };

  progress("infer");
  const benchmarks = [];
  let outputs = null;
  const { tensors: one, batchable } = synthesise(tf, inputs, 1, next);
  for (const batch of batchable ? [1, 8] : [1]) {
    const feeds = batch === 1 ? one : synthesise(tf, inputs, batch, next).tensors;
    const f0 = performance.now();
    const first = await execute(feeds);
    const firstInferenceMs = performance.now() - f0;
    if (batch === 1) {
      outputs = first.list.map((t, k) => {
        const v = first.values[k];
        let nan = 0, inf = 0;
        if (t.dtype === "float32") for (let j = 0; j < v.length; j++) { const x = v[j]; if (Number.isNaN(x)) nan++; else if (!Number.isFinite(x)) inf++; }
        const sample = req.sampleOutputs && t.dtype !== "string" ? Array.from(v.slice(0, 16), Number) : undefined;
        return { name: outputKeys ? outputKeys[k] : outputNames ? outputNames[k] : model.outputs[k].name, dtype: t.dtype, shape: t.shape, nonFinite: { nan, inf }, ...(sample ? { sample } : {}) };
      });
    }
    disposeAll(tf, first.list);
    const samples = [];
    const b0 = performance.now();
    while (samples.length < req.minRuns || (performance.now() - b0 < req.maxBenchMs && samples.length < 1000)) {
      const s0 = performance.now();
      const r = await execute(feeds);
      samples.push(performance.now() - s0);
      disposeAll(tf, r.list);
      if (samples.length >= req.minRuns && performance.now() - b0 >= req.maxBenchMs) break;
    }
    const total = samples.reduce((a, b) => a + b, 0);
    const sorted = [...samples].sort((a, b) => a - b);
    benchmarks.push({ batch, firstInferenceMs, p50Ms: quantile(sorted, 0.5), p95Ms: quantile(sorted, 0.95), p99Ms: quantile(sorted, 0.99), throughputPerSec: (batch * samples.length * 1000) / total, samplesMs: samples });
    if (batch !== 1) disposeAll(tf, Object.values(feeds));
  }
  disposeAll(tf, Object.values(one));
  return { loadMs, paramCount, inputs: describe(inputs.map((i) => (Array.isArray(i.shape) ? i : { ...i, shape: i.unknownRankAs ?? i.shape }))), outputs, benchmarks, backend: tf.getBackend(), ...(conversion ? { conversion } : {}) };
}

async function runSavedModel(req) {
  // Only reached when @tensorflow/tfjs-node is installed and native addons are allowed.
  progress("init");
  const tf = await loadTf(req);
  progress("load");
  const t0 = performance.now();
  const info = await tf.node.getMetaGraphsFromSavedModel(req.modelDir);
  const mg = info.find((m) => m.tags.includes("serve")) ?? info[0];
  if (!mg) throw new Finding("the SavedModel has no meta graph");
  const sigName = mg.signatureDefs.serving_default ? "serving_default" : Object.keys(mg.signatureDefs).find((k) => !k.startsWith("__")) ?? null;
  if (!sigName) throw new Finding("the SavedModel has no signature to run");
  const model = await tf.node.loadSavedModel(req.modelDir, mg.tags, sigName);
  const loadMs = performance.now() - t0;
  const sig = mg.signatureDefs[sigName];
  // Sorted by key, as savedmodel-js orders them, so both runtimes draw the same synthetic inputs.
  const inputs = Object.entries(sig.inputs).sort(([a], [b]) => a.localeCompare(b)).map(([name, s]) => ({ name, dtype: s.dtype, shape: s.shape == null ? null : s.shape }));
  const next = rng(req.seed);
  const { tensors } = synthesise(tf, inputs, 1, next);
  const run = async () => {
    const out = model.predict(tensors);
    const list = out instanceof tf.Tensor ? [out] : Array.isArray(out) ? out : Object.values(out);
    return { list, values: await Promise.all(list.map((t) => t.data())) };
  };
  progress("infer");
  const f0 = performance.now();
  const first = await run();
  const firstInferenceMs = performance.now() - f0;
  const outputs = first.list.map((t, k) => ({ name: Object.keys(sig.outputs)[k] ?? String(k), dtype: t.dtype, shape: t.shape, nonFinite: { nan: Array.from(first.values[k]).filter(Number.isNaN).length, inf: Array.from(first.values[k]).filter((x) => typeof x === "number" && !Number.isNaN(x) && !Number.isFinite(x)).length }, ...(req.sampleOutputs && t.dtype !== "string" ? { sample: Array.from(first.values[k].slice(0, 16), Number) } : {}) }));
  const samples = [];
  const b0 = performance.now();
  while (samples.length < req.minRuns || performance.now() - b0 < req.maxBenchMs) {
    const s0 = performance.now();
    const r = await run();
    samples.push(performance.now() - s0);
    disposeAll(tf, r.list);
    if (samples.length >= 1000) break;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const total = samples.reduce((a, b) => a + b, 0);
  return { loadMs, paramCount: null, inputs: describe(inputs), outputs, backend: "tensorflow", benchmarks: [{ batch: 1, firstInferenceMs, p50Ms: quantile(sorted, 0.5), p95Ms: quantile(sorted, 0.95), p99Ms: quantile(sorted, 0.99), throughputPerSec: (samples.length * 1000) / total, samplesMs: samples }] };
}

async function main() {
  let req;
  try {
    req = await readRequest();
  } catch (err) {
    send({ type: "result", ok: false, error: `bad request: ${err.message}`.slice(0, 2000) });
    return;
  }
  try {
    const r = req.runtime === "tfjs-node" && (req.format === "saved_model" || req.format === "tf1_hub") ? await runSavedModel(req) : await runTfjs(req);
    send({ type: "result", ok: true, runtime: req.runtime, ...r, peakRssBytes: process.resourceUsage().maxRSS * 1024, nodeVersion: process.version, cpuModel: os.cpus()[0]?.model ?? "unknown" });
  } catch (err) {
    const message = String((err && err.message) || err).slice(0, 2000);
    send({ type: "result", ok: false, finding: err instanceof Finding, ...(err instanceof Unsupported ? { unsupported: true, ...(err.op ? { op: String(err.op).slice(0, 128) } : {}) } : {}), error: message, peakRssBytes: process.resourceUsage().maxRSS * 1024 });
  }
}

await main();
// Handles a stuck backend might hold must not keep a finished child alive.
process.exit(0);
