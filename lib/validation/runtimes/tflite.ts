// The TFLite runtimes of the sandbox child: `tfjs-tflite` (@tensorflow/tfjs-tflite, its non-threaded
// SIMD Wasm build, driven through its model runner: no TF.js backend) and `litert` (LiteRT.js,
// @litertjs/core, its non-threaded build). Each loads the one .tflite file the request names, records
// its input and output tensors (with the quantization the flatbuffer declares, lib/formats/tflite.ts:
// neither runtime exposes it), feeds deterministic synthetic inputs, checks the outputs and benchmarks
// with the loop every runtime shares (../sandbox/child-kit.ts).
// Which runs a model is decided by the parent (../execute.ts): tfjs-tflite first (it sizes `-1`
// dimensions), LiteRT.js when tfjs-tflite cannot (a custom op such as MediaPipe's
// Convolution2DTransposeBias). What stops a model is classified here, in the runtime's own words (for
// tfjs-tflite they appear only on the Wasm module's error stream, which the host shims capture):
// - an op or a dimension the runtime cannot run: Unsupported (the version stays `static`);
// - a file the runtime cannot load whose flatbuffer is also malformed: Finding (validation fails).
import fs from "node:fs";
import path from "node:path";
import { readTfliteModel, type TfliteDetails, type TfliteQuantization } from "../../formats/tflite.ts";
import type { ExecutedTensor } from "../evidence.ts";
import { benchmark, countNonFinite, Finding, messageOf, rng, Unsupported } from "../sandbox/child-kit.ts";
import type { ChildOutput, ChildRequest, ChildRunReport } from "../sandbox/protocol.ts";
import { installLiteRtHost, installTfjsTfliteHost, type PrintLog } from "./tflite-host.ts";

type Values = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array;

/** One model input or output as the runtime sees it, with the flatbuffer tensor it is (when known). */
type EngineTensor = { name: string; dtype: string; shape: number[]; tensor: number | null };

/** A loaded model, whatever the runtime: feed it, run it, read it back. */
type Engine = {
  runtime: string;
  backend: string;
  loadMs: number;
  inputs: EngineTensor[];
  outputs: EngineTensor[];
  /** One inference on `feeds` (one typed array per input); the outputs, copied out of the runtime. */
  infer(feeds: Values[]): Promise<Values[]>;
};

/** What the flatbuffer says, if it could be read: quantization by tensor index, and why not otherwise. */
type Declared = { details: TfliteDetails | null; error: string | null };

const packageVersion = (wasmDir: string) => {
  try {
    return (JSON.parse(fs.readFileSync(path.join(wasmDir, "..", "package.json"), "utf8")) as { version: string })
      .version;
  } catch {
    return "unknown";
  }
};

/** The distinct error lines the Wasm module printed, without the INFO chatter, for a message. */
function errorLines(log: PrintLog): string[] {
  const out: string[] = [];
  for (const l of log.lines) {
    const m = /^ERROR:?\s*(?:\[[^\]]*\]\s*)?(.*)$/.exec(l.trim());
    const line = (m ? m[1]! : "").trim();
    if (line && !out.includes(line)) out.push(line);
  }
  return out;
}

/** The op the runtime named as the reason it cannot run the model, if it named one. */
function opOf(text: string): string | undefined {
  return (
    /unresolved custom op: ([A-Za-z0-9_.\-/]+?)\.?(?:\s|$|;)/.exec(text)?.[1] ??
    /Didn't find op for builtin opcode '([^']+)'/.exec(text)?.[1] ??
    /Node number \d+ \(([^)]+)\) failed to prepare/.exec(text)?.[1]
  );
}

/**
 * Why `runtime` did not load (or first run) the model, classified. An op it names is Unsupported (the
 * message is the runtime's own, for the "not executed by <runtime>" finding); a malformed flatbuffer is
 * a Finding (the validation fails with the runtime's words and the flatbuffer's fault); anything else
 * is Unsupported too, for the other runtime may run it.
 */
function refusal(runtime: string, stage: "load" | "run", err: unknown, log: PrintLog, declared: Declared): Finding {
  const said = [messageOf(err).slice(0, 500), ...errorLines(log)].join("; ").slice(0, 1500);
  const op = opOf(said);
  if (op) return new Unsupported(`it cannot run the op ${op}: ${said}`, op);
  if (/does not match expected .*-1\b/.test(said))
    return new Unsupported(`it cannot size a dynamic (-1) dimension of the model's inputs: ${said}`);
  if (declared.error)
    return new Finding(`${runtime} could not load the model: ${said} (the flatbuffer is malformed: ${declared.error})`);
  return new Unsupported(`it could not ${stage} the model: ${said}`);
}

// --- tfjs-tflite ---------------------------------------------------------------------------------

type TfliteRunnerTensor = { id: number; dataType: string; name: string; shape: string; data(): Values };
type TfliteRunner = { getInputs(): TfliteRunnerTensor[]; getOutputs(): TfliteRunnerTensor[]; infer(): boolean };

async function openTfjsTflite(req: ChildRequest, bytes: Uint8Array, declared: Declared): Promise<Engine> {
  const wasmDir = req.wasmDir!;
  const runtime = `tfjs-tflite ${packageVersion(wasmDir)}`;
  const log: PrintLog = { lines: [] };
  const host = installTfjsTfliteHost(wasmDir, log);
  const mod = (await import("@tensorflow/tfjs-tflite")) as typeof import("@tensorflow/tfjs-tflite") & {
    default?: typeof import("@tensorflow/tfjs-tflite");
  };
  const tflite = typeof mod.loadTFLiteModel === "function" ? mod : mod.default!;
  // The Wasm module is instantiated on import; wait for it so that loadMs is the model's alone.
  await Promise.race([host.ready, new Promise((r) => setTimeout(r, 60_000).unref())]);
  const t0 = performance.now();
  let runner: TfliteRunner;
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    // numThreads: without it the runner reads `navigator` (Node 20 has none); one thread is what we measure.
    const model = await tflite.loadTFLiteModel(buffer, { numThreads: 1 });
    runner = (model as unknown as { modelRunner: TfliteRunner }).modelRunner;
  } catch (err) {
    throw refusal("tfjs-tflite", "load", err, log, declared);
  }
  const loadMs = performance.now() - t0;
  const describe = (t: TfliteRunnerTensor, kind: string): EngineTensor => {
    const shape = t.shape === "" ? [] : t.shape.split(",").map(Number);
    if (shape.some((d) => !Number.isInteger(d) || d < 0))
      throw new Unsupported(`it cannot size ${kind} '${t.name}' (shape [${t.shape}])`);
    return { name: t.name, dtype: t.dataType, shape, tensor: t.id };
  };
  const ins = runner.getInputs();
  const outs = runner.getOutputs();
  return {
    runtime,
    backend: "wasm-simd",
    loadMs,
    inputs: ins.map((t) => describe(t, "input")),
    outputs: outs.map((t) => describe(t, "output")),
    async infer(feeds) {
      // data() is a view on the Wasm heap, which may move when it grows: take it afresh each time.
      ins.forEach((t, k) => t.data().set(feeds[k]!));
      log.lines.length = 0;
      if (!runner.infer()) {
        const said = errorLines(log).join("; ").slice(0, 1500);
        const op = opOf(said);
        if (op) throw new Unsupported(`it cannot run the op ${op}: ${said}`, op);
        throw new Error(`tfjs-tflite: the inference failed${said ? `: ${said}` : ""}`);
      }
      return outs.map((t) => t.data().slice());
    },
  };
}

// --- LiteRT.js -----------------------------------------------------------------------------------

async function openLiteRt(req: ChildRequest, bytes: Uint8Array, declared: Declared): Promise<Engine> {
  const wasmDir = req.wasmDir!;
  const runtime = `litert.js ${packageVersion(wasmDir)}`;
  const log: PrintLog = { lines: [] };
  const host = installLiteRtHost(log);
  const lrt = await import("@litertjs/core");
  try {
    await lrt.loadLiteRt(wasmDir.endsWith("/") ? wasmDir : wasmDir + "/");
  } catch (err) {
    throw new Error(`LiteRT.js did not start: ${messageOf(err)}`);
  }
  const backend = host.loaded() === "litert_wasm_internal.js" ? "wasm-relaxed-simd" : "wasm";
  const t0 = performance.now();
  let model: Awaited<ReturnType<typeof lrt.loadAndCompile>>;
  try {
    model = await lrt.loadAndCompile(bytes, { accelerator: "wasm" });
  } catch (err) {
    throw refusal("LiteRT.js", "load", err, log, declared);
  }
  const loadMs = performance.now() - t0;
  // LiteRT.js names tensors by the signature's names; the flatbuffer maps those to tensor indices.
  const sig = declared.details?.signatures.find((s) => s.key === model.key) ?? declared.details?.signatures[0];
  const tensorOf = (kind: "inputs" | "outputs", name: string, k: number) =>
    sig?.[kind].find((m) => m.name === name)?.tensor ?? declared.details?.[kind][k]?.index ?? null;
  const details = (kind: "inputs" | "outputs") =>
    (kind === "inputs" ? model.getInputDetails() : model.getOutputDetails()).map((d, k) => ({
      name: d.name,
      dtype: d.dtype,
      shape: Array.from(d.shape),
      tensor: tensorOf(kind, d.name, k),
    }));
  const inputs = details("inputs");
  return {
    runtime,
    backend,
    loadMs,
    // A dynamic (-1) dimension is fed as 1; LiteRT.js 2.5.3 has no resize and refuses that on the first run.
    inputs: inputs.map((i) => ({ ...i, shape: i.shape.map((d) => (d < 0 ? 1 : d)) })),
    outputs: details("outputs"),
    async infer(feeds) {
      const tensors = feeds.map(
        (v, k) =>
          new lrt.Tensor(
            v as Float32Array,
            inputs[k]!.shape.map((d) => (d < 0 ? 1 : d)),
          ),
      );
      log.lines.length = 0;
      let out: Values[];
      try {
        out = (await model.run(tensors)).map((t) => {
          const v = t.toTypedArray().slice();
          t.delete();
          return v;
        });
      } finally {
        for (const t of tensors) t.delete();
      }
      // LiteRT.js 2.5.3 resolves run() even when the interpreter could not prepare the graph (an op it
      // lacks: "Failed to allocate tensors"), with outputs nobody wrote. Its error lines tell.
      const said = errorLines(log);
      if (said.length) throw new Error(said.join("; ").slice(0, 1500));
      return out;
    },
  };
}

// --- synthetic inputs ----------------------------------------------------------------------------

const INT_RANGES: Record<string, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};
const ARRAYS: Record<string, new (n: number) => Values> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  bool: Uint8Array,
};

/**
 * One input's values. Floats: uniform in [-1, 1). Quantized integers: those same reals quantized with
 * the tensor's scale and zero point (so in range by construction); unquantized uint8/int8 (raw
 * pixels, say): uniform over the type's range; other integers (indices, ids): 0..3; bool: 0 or 1.
 */
function synthesise(t: EngineTensor, q: TfliteQuantization | undefined, next: () => number, runtime: string): Values {
  const Ctor = ARRAYS[t.dtype];
  if (!Ctor) throw new Unsupported(`input '${t.name}' is ${t.dtype}: ${runtime} cannot be fed a ${t.dtype} tensor`);
  const size = t.shape.reduce((a, b) => a * b, 1);
  if (size > 64 * 1024 * 1024)
    throw new Finding(`input '${t.name}' has shape [${t.shape.join(",")}] (${size} elements): too large to synthesise`);
  const v = new Ctor(size);
  const range = INT_RANGES[t.dtype];
  const scale = q?.scale[0];
  for (let j = 0; j < size; j++) {
    const x = next();
    if (!range) v[j] = t.dtype === "bool" ? (x > 0 ? 1 : 0) : x;
    else if (scale) v[j] = Math.min(range[1], Math.max(range[0], Math.round(x / scale + (q.zeroPoint[0] ?? 0))));
    else if (t.dtype === "uint8" || t.dtype === "int8") v[j] = Math.floor(((x + 1) / 2) * 256) + range[0];
    else v[j] = Math.floor((x + 1) * 2);
  }
  return v;
}

// --- the run -------------------------------------------------------------------------------------

/** Runs the request's TFLite model with the runtime it names. */
export async function runTflite(req: ChildRequest, progress: (stage: string) => void): Promise<ChildRunReport> {
  progress("init");
  if (!req.modelFile) throw new Error("the request names no TFLite model file");
  if (!req.wasmDir) throw new Error(`the request names no Wasm folder for ${req.runtime}`);
  const bytes = new Uint8Array(fs.readFileSync(path.join(req.modelDir, req.modelFile)));
  const declared: Declared = { details: null, error: null };
  try {
    declared.details = readTfliteModel(bytes);
  } catch (err) {
    declared.error = messageOf(err);
  }
  progress("load");
  const engine =
    req.runtime === "litert" ? await openLiteRt(req, bytes, declared) : await openTfjsTflite(req, bytes, declared);
  const quantization = (t: EngineTensor) => {
    if (t.tensor === null || !declared.details) return undefined;
    const all = [...declared.details.inputs, ...declared.details.outputs];
    return all.find((d) => d.index === t.tensor)?.quantization;
  };
  const describe = (t: EngineTensor): ExecutedTensor => {
    const q = quantization(t);
    return { name: t.name, dtype: t.dtype, shape: t.shape, ...(q ? { quantization: q } : {}) };
  };
  const sample = (v: Values) => (req.sampleOutputs ? { sample: Array.from(v.subarray(0, 16), Number) } : {});

  progress("infer");
  const next = rng(req.seed);
  const feeds = engine.inputs.map((t) => synthesise(t, quantization(t), next, engine.runtime));
  const f0 = performance.now();
  let first: Values[];
  try {
    first = await engine.infer(feeds);
  } catch (err) {
    if (err instanceof Finding || req.runtime !== "litert") throw err;
    // LiteRT.js checks shapes (and more) only when it runs: what stops its first run is its limit.
    throw refusal("LiteRT.js", "run", err, { lines: [] }, declared);
  }
  const firstInferenceMs = performance.now() - f0;
  const outputs: ChildOutput[] = engine.outputs.map((t, k) => {
    const v = first[k] ?? new Float32Array(0);
    const isFloat = v instanceof Float32Array || v instanceof Float64Array;
    // The runtime knows the output's real shape after the run only by its length.
    const shape = t.shape.reduce((a, b) => a * b, 1) === v.length ? t.shape : [v.length];
    return {
      ...describe({ ...t, shape }),
      nonFinite: isFloat ? countNonFinite(v) : { nan: 0, inf: 0 },
      ...sample(v),
    };
  });
  const bench = await benchmark(
    async () => {
      await engine.infer(feeds);
    },
    { batch: 1, firstInferenceMs, minRuns: req.minRuns, maxBenchMs: req.maxBenchMs },
  );
  return {
    runtime: engine.runtime,
    backend: engine.backend,
    loadMs: engine.loadMs,
    paramCount: declared.details?.parameterCount ?? null,
    inputs: engine.inputs.map((t, k) => ({ ...describe(t), ...sample(feeds[k]!) })),
    outputs,
    benchmarks: [bench],
  };
}
