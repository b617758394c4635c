// The sandboxed validation child. Spawned by ./run.ts in a fresh process with an empty environment,
// Node's permission model (read: its model folder and the runtime packages; write: its own temp
// folder; no child processes, no workers, no native addons), no network (when the host allows a
// network namespace), a memory cap and a wall-clock timeout. It speaks ./protocol.ts.
// Bundled by ./bundle.ts (the child has no TypeScript loader): the TF.js and TFLite packages are
// imported from node_modules, the savedmodel-js runtime from the bundle the request names; the TFLite
// runtimes (../runtimes/tflite.ts) are bundled in.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type * as TfCore from "@tensorflow/tfjs-core";
import type { GraphModel } from "@tensorflow/tfjs-converter";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { isSavedModel } from "../../formats/format.ts";
import type { ExecutedTensor } from "../evidence.ts";
import { runTflite } from "../runtimes/tflite.ts";
import { benchmark, countNonFinite, Finding, messageOf, rng, Unsupported } from "./child-kit.ts";
import {
  childRequestSchema,
  type ChildBenchmark,
  type ChildMessage,
  type ChildOutput,
  type ChildRequest,
  type ChildRunReport,
  type ChildSuccess,
} from "./protocol.ts";

type Tf = typeof TfCore;
type Tensor = TfCore.Tensor;
type Feeds = TfCore.NamedTensorMap;
type Values = Awaited<ReturnType<Tensor["data"]>>;
type SavedModelJs = typeof import("../runtimes/savedmodel-js.ts");
/** The loader library a TF.js format needs, imported before the load is timed. */
type Loader =
  { converter: typeof import("@tensorflow/tfjs-converter") } | { layers: typeof import("@tensorflow/tfjs-layers") };
/** A model input to synthesise: `unknownRankAs` stands in for an unknown shape. */
type InputSpec = {
  name: string;
  key?: string;
  dtype?: string;
  shape: Array<number | null> | null | undefined;
  unknownRankAs?: number[];
};

// The parts of tfjs-node (an optional dependency, usually absent) this child uses.
type SavedModelTensorInfo = { dtype: string; shape?: number[] | null };
type SignatureDefInfo = { inputs: Record<string, SavedModelTensorInfo>; outputs: Record<string, SavedModelTensorInfo> };
type TfjsNode = Tf & {
  node: {
    getMetaGraphsFromSavedModel(
      dir: string,
    ): Promise<Array<{ tags: string[]; signatureDefs: Record<string, SignatureDefInfo> }>>;
    loadSavedModel(
      dir: string,
      tags: string[],
      signature: string,
    ): Promise<{ predict(inputs: Feeds): Tensor | Tensor[] | Feeds }>;
  };
};

// stdout is the protocol channel only: libraries' console output goes to stderr.
for (const k of ["log", "info", "warn", "debug"] as const)
  console[k] = (...args: unknown[]) => void process.stderr.write(args.map(String).join(" ") + "\n");

const send = (msg: ChildMessage) => process.stdout.write(JSON.stringify(msg) + "\n");
const progress = (stage: string) => send({ type: "progress", stage });
const isNamed = (err: unknown, name: string): err is Error => err instanceof Error && err.name === name;

async function readRequest(): Promise<ChildRequest> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(c);
    if (Buffer.concat(chunks).includes(10)) break;
  }
  const line = Buffer.concat(chunks).toString("utf8").split("\n")[0]!;
  return childRequestSchema.parse(JSON.parse(line));
}

async function loadTfjsNode(req: ChildRequest): Promise<TfjsNode> {
  if (!req.tfjsNodeModule) throw new Error("@tensorflow/tfjs-node is not installed");
  const tf = (await import(req.tfjsNodeModule)) as TfjsNode & { default?: TfjsNode };
  return tf.default ?? tf;
}

/** Loads tfjs-core with the requested backend. */
async function loadTf(req: ChildRequest): Promise<Tf> {
  if (req.runtime === "tfjs-node") return loadTfjsNode(req);
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
function readTfjsArtifacts(dir: string) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8")) as TfCore.io.ModelJSON;
  const specs: TfCore.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of manifest.weightsManifest ?? []) {
    for (const p of group.paths) {
      if (p.includes("/") || p.includes("\\") || p === ".." || p === ".")
        throw new Finding(`weightsManifest path "${p}" is not a plain file name`);
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
function layersLoadFinding(err: unknown): unknown {
  const message = messageOf(err).slice(0, 500);
  // A kernel the backend lacks is the backend's problem: the parent retries on cpu.
  if (/^Kernel '[^']*' not registered/.test(message)) return err;
  // "Unknown layer: Lambda. This may be due to ...": a custom or Python-only class, not a broken model.
  const unknown = message.match(/^Unknown (layer|activation|initializer|regularizer|constraint): ([^\s.]+)/);
  if (unknown)
    return new Unsupported(
      `the layers model uses the ${unknown[1]} '${unknown[2]}', which TF.js does not implement (a custom or Python-only class)`,
      unknown[2],
    );
  if (/weights are not set|has no target variable|^Shape mismatch/.test(message))
    return new Finding(`the layers model's weights do not match its topology: ${message}`);
  return new Finding(`TF.js could not load the layers model: ${message}`);
}

/** Builds one synthetic input per model input; -1 or unknown dims become 1 (or `batch` for the first). */
function synthesise(
  tf: Tf,
  inputs: InputSpec[],
  batch: number,
  next: () => number,
): { tensors: Feeds; batchable: boolean } {
  const tensors: Feeds = {};
  const batchable =
    inputs.length > 0 &&
    inputs.every((i) => Array.isArray(i.shape) && i.shape.length > 0 && (i.shape[0] === -1 || i.shape[0] == null));
  for (const input of inputs) {
    const dims = Array.isArray(input.shape) ? input.shape : input.unknownRankAs;
    if (!dims) throw new Finding(`signature input '${input.name}' has unknown rank: cannot synthesise an input`);
    const shape = dims.map((d, k) => (d == null || d < 0 ? (k === 0 ? batch : 1) : d));
    const size = shape.reduce((a, b) => a * b, 1);
    if (size > 64 * 1024 * 1024)
      throw new Finding(
        `signature input '${input.name}' has shape [${shape.join(",")}] (${size} elements): too large to synthesise`,
      );
    const dtype = input.dtype ?? "float32";
    let t: Tensor;
    if (dtype === "float32") t = tf.tensor(Float32Array.from({ length: size }, next), shape, "float32");
    else if (dtype === "int32")
      t = tf.tensor(
        Int32Array.from({ length: size }, () => Math.floor((next() + 1) * 2)),
        shape,
        "int32",
      );
    else if (dtype === "bool")
      t = tf.tensor(
        Uint8Array.from({ length: size }, () => (next() > 0 ? 1 : 0)),
        shape,
        "bool",
      );
    else if (dtype === "string")
      throw new Unsupported(
        `signature input '${input.key ?? input.name}' is a string tensor: no meaningful input can be synthesised for it`,
      );
    else throw new Finding(`signature input '${input.name}' has dtype ${dtype}: cannot synthesise an input`);
    tensors[input.name] = t;
  }
  return { tensors, batchable };
}

function describe(inputs: InputSpec[]): ExecutedTensor[] {
  return inputs.map((i) => ({
    name: i.key ?? i.name,
    dtype: i.dtype ?? "float32",
    shape: Array.isArray(i.shape) ? i.shape.map((d) => (d == null ? -1 : d)) : null,
  }));
}

function tensorsOf(tf: Tf, out: Tensor | Tensor[] | Feeds): Tensor[] {
  return Array.isArray(out) ? out : out instanceof tf.Tensor ? [out] : Object.values(out);
}

function disposeAll(xs: Tensor[]) {
  for (const x of xs) if (x && typeof x.dispose === "function") x.dispose();
}

/** A loaded model, ready to be fed. */
type Loaded =
  | {
      kind: "graph";
      model: GraphModel;
      inputs: InputSpec[];
      outputNames: string[];
      outputKeys: string[] | null;
      paramCount: number;
      conversion?: ChildSuccess["conversion"];
    }
  | { kind: "layers"; model: LayersModel; inputs: InputSpec[]; outputKeys: string[]; paramCount: number };

/** savedmodel-js: SavedModel -> TF.js graph model in memory, then the same loader as TF.js models. */
async function loadConverted(tf: Tf, req: ChildRequest, loader: Loader): Promise<Loaded> {
  if (!("converter" in loader)) throw new Error("a SavedModel is loaded as a graph model");
  if (!req.runtimeModule) throw new Error("the request names no savedmodel-js runtime module");
  const rt = (await import(pathToFileURL(req.runtimeModule).href)) as SavedModelJs;
  let converted: ReturnType<SavedModelJs["convertModelDir"]>;
  const c0 = performance.now();
  try {
    converted = rt.convertModelDir(req.modelDir, { signature: req.signature });
  } catch (err) {
    if (isNamed(err, "UnsupportedModelError"))
      throw new Unsupported(err.message, (err as InstanceType<SavedModelJs["UnsupportedModelError"]>).op);
    if (isNamed(err, "ConversionError") || isNamed(err, "AppError"))
      throw new Finding(`the SavedModel could not be converted: ${err.message}`);
    throw err;
  }
  const convertMs = performance.now() - c0;
  progress("convert");
  let model: GraphModel;
  try {
    model = await loader.converter.loadGraphModel(tf.io.fromMemory(rt.modelArtifacts(converted)));
  } catch (err) {
    throw new Unsupported(`TF.js could not load the converted graph: ${messageOf(err).slice(0, 500)}`);
  }
  const { ops: _ops, ...stats } = converted.stats;
  return {
    kind: "graph",
    model,
    inputs: converted.inputs.map((i) => ({
      name: i.name,
      key: i.key,
      dtype: i.dtype,
      shape: i.shape,
      unknownRankAs: [1],
    })),
    outputNames: converted.outputs.map((o) => o.name),
    outputKeys: converted.outputs.map((o) => o.key),
    paramCount: converted.stats.parameters,
    conversion: { runtime: rt.RUNTIME, signature: converted.signatureKey, convertMs, ...stats },
  };
}

async function loadTfjsModel(tf: Tf, req: ChildRequest, loader: Loader): Promise<Loaded> {
  const { manifest, specs, weightData } = readTfjsArtifacts(req.modelDir);
  const handler = tf.io.fromMemory({
    modelTopology: manifest.modelTopology,
    weightSpecs: specs,
    weightData,
    format: manifest.format,
    generatedBy: manifest.generatedBy,
    convertedBy: manifest.convertedBy,
    signature: manifest.signature,
    userDefinedMetadata: manifest.userDefinedMetadata,
    modelInitializer: manifest.modelInitializer,
  });
  const paramCount = specs.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  if ("converter" in loader) {
    const model = await loader.converter.loadGraphModel(handler);
    return {
      kind: "graph",
      model,
      inputs: model.inputs.map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape })),
      outputNames: model.outputs.map((o) => o.name),
      outputKeys: null,
      paramCount,
    };
  }
  let model: LayersModel;
  try {
    model = await loader.layers.loadLayersModel(handler);
  } catch (err) {
    throw layersLoadFinding(err);
  }
  // Keras names a model's outputs after the layers that produce them (a Sequential's too).
  return {
    kind: "layers",
    model,
    inputs: model.inputs.map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape })),
    outputKeys: model.outputs.map((o) => (o.sourceLayer && o.sourceLayer.name) || o.name),
    paramCount,
  };
}

async function runTfjs(req: ChildRequest): Promise<ChildRunReport> {
  progress("init");
  const tf = await loadTf(req);
  const loader: Loader =
    req.format === "tfjs_layers"
      ? { layers: await import("@tensorflow/tfjs-layers") }
      : { converter: await import("@tensorflow/tfjs-converter") };
  progress("load");
  const t0 = performance.now();
  const loaded =
    req.runtime === "savedmodel-js" ? await loadConverted(tf, req, loader) : await loadTfjsModel(tf, req, loader);
  const loadMs = performance.now() - t0;
  const { inputs } = loaded;
  const next = rng(req.seed);

  let needsAsync = false;
  const execute = async (feeds: Feeds): Promise<{ list: Tensor[]; values: Values[] }> => {
    let list: Tensor[];
    if (loaded.kind === "layers") {
      const xs = inputs.map((i) => feeds[i.name]!);
      const out = loaded.model.predict(xs.length === 1 ? xs[0]! : xs);
      list = Array.isArray(out) ? out : [out];
    } else {
      let out: Tensor | Tensor[];
      if (needsAsync) out = await loaded.model.executeAsync(feeds, loaded.outputNames);
      else {
        try {
          out = loaded.model.execute(feeds, loaded.outputNames);
        } catch (err) {
          if (!/dynamic op|executeAsync/i.test(String(err ? (err as { message?: unknown }).message : err))) throw err;
          needsAsync = true;
          out = await loaded.model.executeAsync(feeds, loaded.outputNames);
        }
      }
      list = tensorsOf(tf, out);
    }
    // Force the computation to finish, as a client reading the result would.
    return { list, values: await Promise.all(list.map((t) => t.data())) };
  };
  const outputName = (k: number) =>
    loaded.outputKeys?.[k] ?? (loaded.kind === "graph" ? loaded.outputNames[k] : undefined) ?? String(k);

  progress("infer");
  const benchmarks: ChildBenchmark[] = [];
  let outputs: ChildOutput[] = [];
  const { tensors: one, batchable } = synthesise(tf, inputs, 1, next);
  for (const batch of batchable ? [1, 8] : [1]) {
    const feeds = batch === 1 ? one : synthesise(tf, inputs, batch, next).tensors;
    const f0 = performance.now();
    const first = await execute(feeds);
    const firstInferenceMs = performance.now() - f0;
    if (batch === 1) {
      outputs = first.list.map((t, k) => {
        const v = first.values[k]!;
        const { nan, inf } = t.dtype === "float32" ? countNonFinite(v) : { nan: 0, inf: 0 };
        const sample = req.sampleOutputs && t.dtype !== "string" ? Array.from(v.slice(0, 16), Number) : undefined;
        return {
          name: outputName(k),
          dtype: t.dtype,
          shape: t.shape,
          nonFinite: { nan, inf },
          ...(sample ? { sample } : {}),
        };
      });
    }
    disposeAll(first.list);
    benchmarks.push(
      await benchmark(async () => disposeAll((await execute(feeds)).list), {
        batch,
        firstInferenceMs,
        minRuns: req.minRuns,
        maxBenchMs: req.maxBenchMs,
      }),
    );
    if (batch !== 1) disposeAll(Object.values(feeds));
  }
  disposeAll(Object.values(one));
  const conversion = loaded.kind === "graph" ? loaded.conversion : undefined;
  return {
    loadMs,
    paramCount: loaded.paramCount,
    inputs: describe(inputs.map((i) => (Array.isArray(i.shape) ? i : { ...i, shape: i.unknownRankAs ?? i.shape }))),
    outputs,
    benchmarks,
    backend: tf.getBackend(),
    ...(conversion ? { conversion } : {}),
  };
}

async function runSavedModel(req: ChildRequest): Promise<ChildRunReport> {
  // Only reached when @tensorflow/tfjs-node is installed and native addons are allowed.
  progress("init");
  const tf = await loadTfjsNode(req);
  progress("load");
  const t0 = performance.now();
  const info = await tf.node.getMetaGraphsFromSavedModel(req.modelDir);
  const mg = info.find((m) => m.tags.includes("serve")) ?? info[0];
  if (!mg) throw new Finding("the SavedModel has no meta graph");
  const sigName = mg.signatureDefs.serving_default
    ? "serving_default"
    : (Object.keys(mg.signatureDefs).find((k) => !k.startsWith("__")) ?? null);
  if (!sigName) throw new Finding("the SavedModel has no signature to run");
  const model = await tf.node.loadSavedModel(req.modelDir, mg.tags, sigName);
  const loadMs = performance.now() - t0;
  const sig = mg.signatureDefs[sigName]!;
  // Sorted by key, as savedmodel-js orders them, so both runtimes draw the same synthetic inputs.
  const inputs: InputSpec[] = Object.entries(sig.inputs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, s]) => ({ name, dtype: s.dtype, shape: s.shape == null ? null : s.shape }));
  const next = rng(req.seed);
  const { tensors } = synthesise(tf, inputs, 1, next);
  const run = async () => {
    const list = tensorsOf(tf, model.predict(tensors));
    return { list, values: await Promise.all(list.map((t) => t.data())) };
  };
  progress("infer");
  const f0 = performance.now();
  const first = await run();
  const firstInferenceMs = performance.now() - f0;
  const outputs: ChildOutput[] = first.list.map((t, k) => {
    const nonFinite = countNonFinite(first.values[k]!);
    return {
      name: Object.keys(sig.outputs)[k] ?? String(k),
      dtype: t.dtype,
      shape: t.shape,
      nonFinite,
      ...(req.sampleOutputs && t.dtype !== "string"
        ? { sample: Array.from(first.values[k]!.slice(0, 16), Number) }
        : {}),
    };
  });
  return {
    loadMs,
    paramCount: null,
    inputs: describe(inputs),
    outputs,
    backend: "tensorflow",
    benchmarks: [
      await benchmark(async () => disposeAll((await run()).list), {
        batch: 1,
        firstInferenceMs,
        minRuns: req.minRuns,
        maxBenchMs: req.maxBenchMs,
      }),
    ],
  };
}

async function main() {
  let req: ChildRequest;
  try {
    req = await readRequest();
  } catch (err) {
    send({ type: "result", ok: false, error: `bad request: ${messageOf(err)}`.slice(0, 2000) });
    return;
  }
  try {
    const r =
      req.runtime === "tfjs-tflite" || req.runtime === "litert"
        ? await runTflite(req, progress)
        : req.runtime === "tfjs-node" && isSavedModel(req.format)
          ? await runSavedModel(req)
          : await runTfjs(req);
    send({
      type: "result",
      ok: true,
      runtime: req.runtime,
      ...r,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      nodeVersion: process.version,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
    });
  } catch (err) {
    const message = messageOf(err).slice(0, 2000);
    send({
      type: "result",
      ok: false,
      finding: err instanceof Finding,
      ...(err instanceof Unsupported
        ? { unsupported: true, ...(err.op ? { op: String(err.op).slice(0, 128) } : {}) }
        : {}),
      error: message,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    });
  }
}

await main();
// Handles a stuck backend might hold must not keep a finished child alive.
process.exit(0);
