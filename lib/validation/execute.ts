// Execution level: picks the runtime for a format, runs the model in the sandbox and turns what
// happened into a verdict an ML engineer can read. A model that did not run is never "executed".
import fs from "node:fs";
import path from "node:path";
import type { ValidationLevel, ValidationStatus } from "../db/generated/enums.ts";
import { isSavedModel, isTfjs, type ExecutableFormat, type ModelFormat } from "../formats/format.ts";
import { STATIC_ONLY_ISOLATION, type ExecutionEvidence, type Finding, type IsolationEvidence } from "./evidence.ts";
import { tfjsNodeAvailable, wasmDistDir } from "./sandbox/isolation.ts";
import type { SandboxBackend, SandboxRuntime } from "./sandbox/protocol.ts";
import {
  runInSandbox,
  SandboxUnavailableError,
  type ChildSuccess,
  type Isolation,
  type SandboxRequest,
} from "./sandbox/run.ts";

export { SandboxUnavailableError };

/** The runtime (and backend) that runs a format here, or why none can. */
export type RuntimeChoice =
  { runtime: SandboxRuntime; backend: SandboxBackend; format: ExecutableFormat } | { none: string };

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
  if (format === "tflite") return { none: "no TFLite runtime on this machine" };
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
  format: ExecutableFormat,
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
  const crossCheck = choice.runtime === "savedmodel-js" && tfjsNodeAvailable().ok;
  const request: SandboxRequest = {
    runtime: choice.runtime,
    backend: choice.backend,
    format: choice.format,
    modelDir: dir,
    minRuns: opts.minRuns,
    maxBenchMs: opts.maxBenchMs,
    sampleOutputs: crossCheck,
  };
  let outcome = await runInSandbox(request, opts);
  const findings: Finding[] = [];
  // The Wasm backend failing to start is the host's problem, not the model's, and it lacks some kernels
  // the cpu backend has (TensorList ops in converted loops): fall back to cpu before judging the model.
  if (outcome.kind === "result" && !outcome.result.ok && choice.backend === "wasm" && !outcome.result.finding) {
    findings.push({
      code: "wasm_fallback",
      severity: "info",
      message: `the Wasm backend failed (${outcome.result.error.slice(0, 200)}); ran on the cpu backend instead`,
    });
    outcome = await runInSandbox({ ...request, backend: "cpu" }, opts);
  }
  const base: { runtime: string; backend: string; isolation: Isolation } = {
    runtime: choice.runtime,
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
    if (r0.unsupported) {
      const refusal: Finding = {
        code: "runtime_refused",
        severity: "warning",
        message: `not executed by ${choice.runtime}: ${r0.error}`,
        runtime: choice.runtime,
        reason: r0.error,
        ...(r0.op ? { op: r0.op } : {}),
      };
      return { ...base, status: "passed", level: "static", findings: [...findings, refusal] };
    }
    const error = r0.finding ? r0.error : `${choice.runtime} (${choice.backend}) could not run the model: ${r0.error}`;
    return { ...base, status: "failed", level: "static", findings, error };
  }
  // The runtime and converter version, e.g. "savedmodel-js 1.0.0", name what produced the scores.
  const r = r0.conversion ? { ...r0, runtime: r0.conversion.runtime } : r0;
  base.runtime = r.runtime;
  base.backend = r.backend;
  if (crossCheck) findings.push(await compareWithTfjsNode(dir, choice.format, opts, r));
  const bad = r.outputs.filter((o) => o.nonFinite.nan + o.nonFinite.inf > 0);
  const execution: ExecutionEvidence = {
    inputs: r.inputs,
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
