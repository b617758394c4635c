// Execution level: picks the runtime for a format, runs the model in the sandbox and turns what
// happened into a verdict an ML engineer can read. A model that did not run is never "executed".
// TFLite runs in tfjs-tflite, and in LiteRT.js when tfjs-tflite cannot run it (measured on the
// fixtures and MediaPipe's models: tfjs-tflite sizes `-1` dimensions, which LiteRT.js 2.5.3 cannot;
// LiteRT.js has ops tfjs-tflite lacks, such as MediaPipe's custom Convolution2DTransposeBias).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ValidationLevel, ValidationStatus } from "../db/generated/enums.ts";
import { isSavedModel, isTfjs, type KnownFormat, type ModelFormat } from "../formats/format.ts";
import { STATIC_ONLY_ISOLATION, type ExecutionEvidence, type Finding, type IsolationEvidence } from "./evidence.ts";
import { tfjsNodeAvailable, tfliteWasmDir, wasmDistDir } from "./sandbox/isolation.ts";
import type { SandboxBackend, SandboxRuntime } from "./sandbox/protocol.ts";
import {
  runInSandbox,
  SandboxUnavailableError,
  type ChildSuccess,
  type Isolation,
  type SandboxOutcome,
  type SandboxRequest,
} from "./sandbox/run.ts";

export { SandboxUnavailableError };

/** The runtime (and backend) that runs a format here, or why none can. */
export type RuntimeChoice =
  { runtime: SandboxRuntime; backend: SandboxBackend; format: KnownFormat } | { none: string };

function wasmAvailable(): boolean {
  const dist = wasmDistDir();
  return (
    dist !== null &&
    (fs.existsSync(path.join(dist, "tfjs-backend-wasm-simd.wasm")) ||
      fs.existsSync(path.join(dist, "tfjs-backend-wasm.wasm")))
  );
}

/** The runtime that can execute `format` on this machine, or why none can. */
export function chooseRuntime(format: ModelFormat, preferred: "wasm" | "cpu"): RuntimeChoice {
  if (isTfjs(format))
    return { runtime: "tfjs", backend: preferred === "wasm" && wasmAvailable() ? "wasm" : "cpu", format };
  // SavedModels are converted to TF.js graph models in the sandbox (lib/formats/savedmodel/convert.ts);
  // where tfjs-node is installed, executeModel also runs them there and compares the outputs.
  if (isSavedModel(format))
    return { runtime: "savedmodel-js", backend: preferred === "wasm" && wasmAvailable() ? "wasm" : "cpu", format };
  // tfjs-tflite first; executeModel falls back to LiteRT.js for what tfjs-tflite cannot run.
  if (format === "tflite") {
    if (tfliteWasmDir("tfjs-tflite")) return { runtime: "tfjs-tflite", backend: "wasm", format };
    if (tfliteWasmDir("litert")) return { runtime: "litert", backend: "wasm", format };
    return {
      none: "no TFLite runtime on this machine (neither @tensorflow/tfjs-tflite nor @litertjs/core is installed)",
    };
  }
  return { none: "unrecognised format" };
}

/** What executing a statically passed model showed: the run's level, evidence and findings. */
export type ExecutionVerdict = {
  status: Extract<ValidationStatus, "passed" | "failed">;
  level: ValidationLevel;
  runtime: string;
  backend: string | null;
  findings: Finding[];
  error?: string;
  execution?: ExecutionEvidence;
  result?: ChildSuccess;
  isolation: IsolationEvidence;
};

/** The verdict for a statically passed model that no runtime here can run: it says why. */
export function notExecuted(reason: string): ExecutionVerdict {
  return {
    status: "passed",
    level: "static",
    runtime: "static",
    backend: null,
    findings: [
      { code: "not_executed", severity: "info", message: `not executed: ${reason}; verified statically only` },
    ],
    isolation: STATIC_ONLY_ISOLATION,
  };
}

/**
 * Runs a SavedModel a second time with tfjs-node (libtensorflow) and compares the first output values
 * with the converted run's. Only reached where tfjs-node is installed with its native binding.
 */
async function compareWithTfjsNode(
  dir: string,
  format: KnownFormat,
  opts: ExecutionOptions,
  converted: ChildSuccess,
): Promise<Finding> {
  const outcome = await runInSandbox(
    {
      runtime: "tfjs-node",
      backend: "tensorflow",
      format,
      modelDir: dir,
      minRuns: 1,
      maxBenchMs: 1,
      sampleOutputs: true,
    },
    opts,
  );
  if (outcome.kind !== "result" || !outcome.result.ok) {
    const why = outcome.kind === "result" ? (outcome.result.ok ? "" : outcome.result.error) : outcome.detail;
    return {
      code: "cross_check_unavailable",
      severity: "info",
      message: `tfjs-node could not run the model for comparison: ${why.slice(0, 300)}`,
    };
  }
  const reference = outcome.result.outputs;
  let worst = 0;
  for (const o of converted.outputs) {
    const ref = reference.find((x) => x.name === o.name) ?? reference[converted.outputs.indexOf(o)];
    if (!ref?.sample || !o.sample)
      return {
        code: "cross_check_missing_output",
        severity: "warning",
        message: `tfjs-node has no output to compare with '${o.name}'`,
      };
    for (let k = 0; k < Math.min(ref.sample.length, o.sample.length); k++)
      worst = Math.max(worst, Math.abs(ref.sample[k]! - o.sample[k]!) / Math.max(1, Math.abs(ref.sample[k]!)));
  }
  return worst <= 1e-4
    ? {
        code: "cross_check_agree",
        severity: "info",
        message: `outputs agree with tfjs-node (libtensorflow) within ${worst.toExponential(1)} (relative)`,
      }
    : {
        code: "cross_check_differ",
        severity: "warning",
        message: `outputs differ from tfjs-node (libtensorflow) by up to ${worst.toExponential(1)} (relative)`,
      };
}

/** The folder and file name of a TFLite model: `p` is the .tflite file, or a folder holding exactly one. */
function tfliteTarget(p: string): { modelDir: string; modelFile: string } {
  if (fs.statSync(p).isFile()) return { modelDir: path.dirname(p), modelFile: path.basename(p) };
  const files = fs.readdirSync(p).filter((f) => f.endsWith(".tflite") && fs.statSync(path.join(p, f)).isFile());
  if (files.length !== 1) throw new Error(`${p} holds ${files.length} .tflite files; name the one to run`);
  return { modelDir: p, modelFile: files[0]! };
}

/** The runtime's refusal as a finding: what stopped it, in its own words, and the op when it named one. */
function refusalOf(runtime: string, r: { error: string; op?: string }): Finding {
  return {
    code: "runtime_refused",
    severity: "warning",
    message: `not executed by ${runtime}: ${r.error}`,
    runtime,
    reason: r.error,
    ...(r.op ? { op: r.op } : {}),
  };
}

/** In words, why a sandbox run did not give a result that ran. */
function whyNot(outcome: SandboxOutcome): string {
  if (outcome.kind === "result") return outcome.result.ok ? "" : outcome.result.error;
  return outcome.kind === "killed" ? `killed (${outcome.reason}): ${outcome.detail}` : outcome.detail;
}

/** The sandbox's limits for one model, the backend to prefer, and the benchmark's length. */
export type ExecutionOptions = {
  timeoutMs: number;
  memoryBytes: number;
  backend: "wasm" | "cpu";
  minRuns?: number;
  maxBenchMs?: number;
  signal?: AbortSignal;
};

/**
 * Runs `dir` (an extracted, statically passed model) in the sandbox. Throws SandboxUnavailableError
 * only for host failures (the job retries); everything the model does becomes a verdict.
 */
export async function executeModel(
  dir: string,
  format: ModelFormat,
  opts: ExecutionOptions,
): Promise<ExecutionVerdict> {
  const choice = chooseRuntime(format, opts.backend);
  if ("none" in choice) return notExecuted(choice.none);
  const tflite = choice.format === "tflite";
  const crossCheck = choice.runtime === "savedmodel-js" && tfjsNodeAvailable().ok;
  const request: SandboxRequest = {
    runtime: choice.runtime,
    backend: choice.backend,
    format: choice.format,
    ...(tflite ? tfliteTarget(dir) : { modelDir: dir }),
    minRuns: opts.minRuns,
    maxBenchMs: opts.maxBenchMs,
    sampleOutputs: crossCheck,
  };
  let outcome = await runInSandbox(request, opts);
  let runtime: string = choice.runtime;
  const findings: Finding[] = [];
  // What tfjs-tflite cannot run (a custom or missing op), LiteRT.js may: try it in a fresh child.
  if (
    choice.runtime === "tfjs-tflite" &&
    outcome.kind === "result" &&
    !outcome.result.ok &&
    outcome.result.unsupported &&
    tfliteWasmDir("litert")
  ) {
    const refused = outcome.result;
    const second = await runInSandbox({ ...request, runtime: "litert" }, opts);
    if (second.kind === "result" && second.result.ok) {
      findings.push({
        code: "runtime_fallback",
        severity: "info",
        message: `tfjs-tflite cannot run the model (${refused.error.slice(0, 300)}); LiteRT.js ran it instead`,
        ...(refused.op ? { op: refused.op } : {}),
      });
      outcome = second;
      runtime = "litert";
    } else if (second.kind === "killed" && opts.signal?.aborted) {
      outcome = second; // the job was stopped: that, not the model, is the verdict
    } else {
      // Neither runtime runs it: the primary's reason leads, LiteRT.js's follows.
      findings.push(refusalOf("tfjs-tflite", refused));
      const r = second.kind === "result" && !second.result.ok ? second.result : null;
      findings.push(refusalOf("litert", r ?? { error: whyNot(second).slice(0, 2000) }));
      return {
        runtime: "tfjs-tflite",
        backend: choice.backend,
        isolation: outcome.isolation,
        status: "passed",
        level: "static",
        findings,
      };
    }
  }
  // The Wasm backend failing to start is the host's problem, not the model's, and it lacks some kernels
  // the cpu backend has (TensorList ops in converted loops): fall back to cpu before judging the model.
  if (
    outcome.kind === "result" &&
    !outcome.result.ok &&
    !tflite &&
    choice.backend === "wasm" &&
    !outcome.result.finding
  ) {
    findings.push({
      code: "wasm_fallback",
      severity: "info",
      message: `the Wasm backend failed (${outcome.result.error.slice(0, 200)}); ran on the cpu backend instead`,
    });
    outcome = await runInSandbox({ ...request, backend: "cpu" }, opts);
  }
  const base: { runtime: string; backend: string; isolation: Isolation } = {
    runtime,
    backend: choice.backend,
    isolation: outcome.isolation,
  };
  const limitMiB = Math.round(opts.memoryBytes / 1048576);
  if (outcome.kind === "killed") {
    const error =
      outcome.reason === "timeout" && opts.signal?.aborted
        ? `the sandbox run ${outcome.detail}`
        : outcome.reason === "timeout"
          ? `the model did not finish within ${Math.round(opts.timeoutMs / 1000)} s in the sandbox and was killed`
          : outcome.reason === "memory"
            ? `the model needed more than the ${limitMiB} MiB memory cap and was killed (${outcome.detail})`
            : `the validation child broke the protocol and was killed: ${outcome.detail}`;
    return { ...base, status: "failed", level: "static", findings, error };
  }
  if (outcome.kind === "crashed")
    return {
      ...base,
      status: "failed",
      level: "static",
      findings,
      error: `the model crashed its runtime: ${outcome.detail}`,
    };
  const r0 = outcome.result;
  if (!r0.ok) {
    // What this runtime cannot run (an op TF.js lacks, a variable write, a string input) is not the
    // model's fault: the version stays at level static, with a finding naming exactly what stopped it.
    if (r0.unsupported)
      return { ...base, status: "passed", level: "static", findings: [...findings, refusalOf(runtime, r0)] };
    const error = r0.finding ? r0.error : `${runtime} (${choice.backend}) could not run the model: ${r0.error}`;
    return { ...base, status: "failed", level: "static", findings, error };
  }
  // The runtime and converter version, e.g. "savedmodel-js 1.0.0", name what produced the scores.
  const r = r0.conversion ? { ...r0, runtime: r0.conversion.runtime } : r0;
  base.runtime = r.runtime;
  base.backend = r.backend;
  if (crossCheck && !tflite) findings.push(await compareWithTfjsNode(dir, choice.format, opts, r));
  const bad = r.outputs.filter((o) => o.nonFinite.nan + o.nonFinite.inf > 0);
  const execution: ExecutionEvidence = {
    inputs: r.inputs.map(({ sample: _s, ...i }) => i),
    outputs: r.outputs.map(({ nonFinite: _nf, sample: _s, ...o }) => o),
    ...(r.conversion ? { conversion: r.conversion } : {}),
  };
  if (bad.length > 0) {
    const o = bad[0]!;
    return {
      ...base,
      status: "failed",
      level: "executed",
      findings,
      execution,
      result: r,
      error: `output '${o.name}' is not finite on a synthetic input in [-1, 1] (${o.nonFinite.nan} NaN, ${o.nonFinite.inf} infinite values)`,
    };
  }
  return { ...base, status: "passed", level: "executed", findings, execution, result: r };
}

/**
 * Runs a TFLite model given as bytes (as the validation job has it, from the blob store): writes it to a
 * private temp folder, which the sandbox may read only that file of, and removes it afterwards.
 */
export async function executeTfliteBytes(bytes: Uint8Array, opts: ExecutionOptions): Promise<ExecutionVerdict> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-tflite-"));
  try {
    const file = path.join(dir, "model.tflite");
    fs.writeFileSync(file, bytes, { mode: 0o600 });
    return await executeModel(file, "tflite", opts);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
