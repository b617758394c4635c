// Execution level: picks the runtime for a format, runs the model in the sandbox and turns what
// happened into a verdict an ML engineer can read. A model that did not run is never "executed".
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { runInSandbox, tfjsNodeAvailable, type ChildResult, type Isolation, SandboxUnavailableError, type SandboxRequest } from "./sandbox/run.ts";
import type { StaticFinding, StaticResult } from "./static.ts";

export { SandboxUnavailableError };

const require = createRequire(import.meta.url);

export type RuntimeChoice = { runtime: SandboxRequest["runtime"]; backend: SandboxRequest["backend"] } | { none: string };

function wasmAvailable(): boolean {
  try {
    const dist = path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist");
    return fs.existsSync(path.join(dist, "tfjs-backend-wasm-simd.wasm")) || fs.existsSync(path.join(dist, "tfjs-backend-wasm.wasm"));
  } catch {
    return false;
  }
}

/** The runtime that can execute `format` on this machine, or why none can. */
export function chooseRuntime(format: StaticResult["format"], preferred: "wasm" | "cpu"): RuntimeChoice {
  if (format === "tfjs_graph" || format === "tfjs_layers") return { runtime: "tfjs", backend: preferred === "wasm" && wasmAvailable() ? "wasm" : "cpu" };
  if (format === "saved_model" || format === "tf1_hub") {
    const node = tfjsNodeAvailable();
    return node.ok ? { runtime: "tfjs-node", backend: "tensorflow" } : { none: `no SavedModel runtime on this machine: ${node.reason}` };
  }
  if (format === "tflite") return { none: "no TFLite runtime on this machine" };
  return { none: "unrecognised format" };
}

export type ExecutionVerdict = {
  status: "passed" | "failed";
  level: "executed" | "static";
  runtime: string;
  backend: string | null;
  findings: StaticFinding[];
  error?: string;
  execution?: { inputs: unknown[]; outputs: unknown[] };
  result?: Extract<ChildResult, { ok: true }>;
  isolation: Isolation | { note: string };
};

/** The verdict for a statically passed model that no runtime here can run: it says why. */
export function notExecuted(reason: string): ExecutionVerdict {
  return { status: "passed", level: "static", runtime: "static", backend: null, findings: [{ severity: "info", message: `not executed: ${reason}; verified statically only` }], isolation: { note: "static checks only: the model was parsed and checksummed, not executed" } };
}

/**
 * Runs `dir` (an extracted, statically passed model) in the sandbox. Throws SandboxUnavailableError
 * only for host failures (the job retries); everything the model does becomes a verdict.
 */
export type ExecutionOptions = { timeoutMs: number; memoryBytes: number; backend: "wasm" | "cpu"; minRuns?: number; maxBenchMs?: number };

export async function executeModel(dir: string, format: StaticResult["format"], opts: ExecutionOptions): Promise<ExecutionVerdict> {
  const choice = chooseRuntime(format, opts.backend);
  if ("none" in choice) return notExecuted(choice.none);
  const request: SandboxRequest = { runtime: choice.runtime, backend: choice.backend, format: format as SandboxRequest["format"], modelDir: dir, minRuns: opts.minRuns, maxBenchMs: opts.maxBenchMs };
  let outcome = await runInSandbox(request, opts);
  const findings: StaticFinding[] = [];
  // The Wasm backend failing to start is the host's problem, not the model's: fall back to cpu.
  if (outcome.kind === "result" && !outcome.result.ok && choice.backend === "wasm" && /backend did not initialise|wasm/i.test(outcome.result.error) && !outcome.result.finding) {
    findings.push({ severity: "info", message: `the Wasm backend failed (${outcome.result.error.slice(0, 200)}); ran on the cpu backend instead` });
    outcome = await runInSandbox({ ...request, backend: "cpu" }, opts);
  }
  const base = { runtime: choice.runtime, backend: choice.backend as string, isolation: outcome.isolation };
  const limitMiB = Math.round(opts.memoryBytes / 1048576);
  if (outcome.kind === "killed") {
    const error =
      outcome.reason === "timeout"
        ? `the model did not finish within ${Math.round(opts.timeoutMs / 1000)} s in the sandbox and was killed`
        : outcome.reason === "memory"
          ? `the model needed more than the ${limitMiB} MiB memory cap and was killed (${outcome.detail})`
          : `the validation child broke the protocol and was killed: ${outcome.detail}`;
    return { ...base, status: "failed", level: "static", findings, error };
  }
  if (outcome.kind === "crashed") return { ...base, status: "failed", level: "static", findings, error: `the model crashed its runtime: ${outcome.detail}` };
  const r = outcome.result;
  if (!r.ok) {
    const error = r.finding ? r.error : `${choice.runtime} (${choice.backend}) could not run the model: ${r.error}`;
    return { ...base, status: "failed", level: "static", findings, error };
  }
  base.backend = r.backend;
  const bad = r.outputs.filter((o) => o.nonFinite.nan + o.nonFinite.inf > 0);
  const execution = { inputs: r.inputs, outputs: r.outputs.map(({ nonFinite: _nf, ...o }) => o) };
  if (bad.length > 0) {
    const o = bad[0]!;
    return { ...base, status: "failed", level: "executed", findings, execution, result: r, error: `output '${o.name}' is not finite on a synthetic input in [-1, 1] (${o.nonFinite.nan} NaN, ${o.nonFinite.inf} infinite values)` };
  }
  return { ...base, status: "passed", level: "executed", findings, execution, result: r };
}
