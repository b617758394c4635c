// Runs untrusted model code in a fresh child process and reports what it said and what was enforced.
// This file supervises one run: a private folder (the bundled child in `code/`, its writable `work/`),
// the spawn inside the confinement ./isolation.ts sets up, a wall-clock timeout and an RSS watchdog
// that SIGKILL the child's whole process group, the JSON lines of ./protocol.ts, and the outcome.
// What each run gets (reported in `isolation`, so the UI and API say what was really in force):
// - env: empty (no database URL, S3 keys or auth secret reach the child);
// - fs: Node's permission model: read only the model folder (a TFLite run: the model file), the
//   child's code and the runtime packages it imports; write only its own private folder; no child processes, no worker threads,
//   no native addons (Node 20 has no --allow-addons);
// - network: a fresh network namespace with no interfaces up where the host allows it; otherwise
//   "none", said plainly;
// - memory: --max-old-space-size, a memory cgroup where one can be created, and an RSS watchdog
//   (always) that SIGKILLs the child above the cap;
// - time: a wall-clock timeout ending in SIGKILL of the child's whole process group.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Isolation } from "../evidence.ts";
import { buildBundle, type BundledModule } from "./bundle.ts";
import {
  createMemoryCgroup,
  describeIsolation,
  EMPTY_ENV,
  type MemoryCgroup,
  findNetworkWrapper,
  permissionFlags,
  runtimeReadPaths,
  tfjsNodeAvailable,
  tfjsNodeEntry,
  tfliteWasmDir,
  wasmDistDir,
} from "./isolation.ts";
import {
  childMessageSchema,
  MAX_PROTOCOL_BYTES,
  type ChildMessage,
  type ChildRequestInput,
  type ChildResult,
  type SandboxRequest,
} from "./protocol.ts";

export { tfjsNodeAvailable };
export type { ChildResult, ChildSuccess, SandboxRequest } from "./protocol.ts";
export type { Isolation } from "../evidence.ts";

/** Why the sandbox killed a child. */
export type KillReason = "timeout" | "memory" | "protocol";

/** What happened to one run: the child's result, a kill (and why), or a crash without a result. */
export type SandboxOutcome =
  | { kind: "result"; result: ChildResult; isolation: Isolation; wallMs: number; stderr: string }
  | {
      kind: "killed";
      reason: KillReason;
      detail: string;
      isolation: Isolation;
      wallMs: number;
      peakRssBytes: number;
      stderr: string;
    }
  | { kind: "crashed"; detail: string; isolation: Isolation; wallMs: number; stderr: string };

/** A failure of the host, not of the model: the sandbox could not be started. The job retries. */
export class SandboxUnavailableError extends Error {}

/** The limits of one run, and who may stop it early. */
export type SandboxOptions = {
  timeoutMs: number;
  memoryBytes: number;
  /** Tests only: run another script under the same sandbox (it gets the same read rights as the child). */
  script?: string;
  onProgress?: (stage: string) => void;
  /** Aborting (the job's budget ran out, or the worker stops) kills the child like the timeout. */
  signal?: AbortSignal;
};

function readRss(pid: number): number {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Builds the bundles a run needs; a failure to build is the host's. */
async function bundles(request: SandboxRequest, opts: SandboxOptions): Promise<Array<[BundledModule, Uint8Array]>> {
  const needed: BundledModule[] = [
    ...(opts.script ? [] : ["child" as const]),
    ...(request.runtime === "savedmodel-js" ? ["savedmodel-js" as const] : []),
  ];
  const out: Array<[BundledModule, Uint8Array]> = [];
  for (const name of needed) {
    try {
      out.push([name, await buildBundle(name)]);
    } catch (err) {
      const what = name === "child" ? "the sandbox child" : `the ${request.runtime} runtime for the sandbox`;
      throw new SandboxUnavailableError(`could not build ${what}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** One run, ready to spawn: its private folder, the confined command line and the request line. */
type PreparedRun = {
  root: string;
  workDir: string;
  argv: string[];
  cgroup: MemoryCgroup | null;
  isolation: Isolation;
  memMiB: number;
  maxOldSpaceMiB: number;
  message: ChildRequestInput;
};

/** Lays out the run's folder (the bundles in `code/`, the writable `work/`) and its confinement. */
async function prepareRun(request: SandboxRequest, opts: SandboxOptions): Promise<PreparedRun> {
  const built = await bundles(request, opts);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-sandbox-"));
  fs.chmodSync(root, 0o700);
  const codeDir = path.join(root, "code");
  const workDir = path.join(root, "work");
  fs.mkdirSync(codeDir);
  fs.mkdirSync(workDir);
  for (const [name, bytes] of built) fs.writeFileSync(path.join(codeDir, `${name}.mjs`), bytes, { mode: 0o400 });
  const script = opts.script ?? path.join(codeDir, "child.mjs");
  const runtimeModule = request.runtime === "savedmodel-js" ? path.join(codeDir, "savedmodel-js.mjs") : undefined;

  const memMiB = Math.max(64, Math.floor(opts.memoryBytes / 1024 / 1024));
  const maxOldSpaceMiB = Math.max(32, Math.floor(memMiB * 0.75));
  const modelDir = path.resolve(request.modelDir);
  // A TFLite run reads its one model file, not the folder it sits in (which may hold anything).
  const modelFile = request.modelFile ? path.join(modelDir, request.modelFile) : null;
  const readDirs = [
    ...new Set([...(modelFile ? [] : [modelDir]), codeDir, path.dirname(script), ...runtimeReadPaths(request.runtime)]),
  ];
  const nodeArgs = [
    "--no-warnings",
    ...permissionFlags({
      readDirs,
      readFiles: [...(modelFile ? [modelFile] : []), ...(opts.script ? [opts.script] : [])],
      writeDir: workDir,
      addons: request.runtime === "tfjs-node" && tfjsNodeAvailable().ok,
    }),
    `--max-old-space-size=${maxOldSpaceMiB}`,
    script,
  ];
  const net = findNetworkWrapper();
  const cgroup = createMemoryCgroup(Math.max(64 * 1024 * 1024, opts.memoryBytes));
  let argv = [...(net?.argv ?? []), process.execPath, ...nodeArgs];
  // Joins the cgroup before exec'ing the child, so every byte it allocates is counted.
  if (cgroup) argv = ["/bin/sh", "-c", 'echo $$ > "$0" && unset PWD OLDPWD && exec "$@"', cgroup.procs, ...argv];
  const isolation = describeIsolation({
    readDirs: readDirs.length,
    modelFile: modelFile !== null,
    network: net,
    cgroup,
    capBytes: opts.memoryBytes,
    maxOldSpaceMiB,
    timeoutMs: opts.timeoutMs,
  });
  const wasmDir =
    request.runtime === "tfjs-tflite" || request.runtime === "litert"
      ? (tfliteWasmDir(request.runtime) ?? undefined)
      : request.runtime !== "tfjs-node"
        ? (wasmDistDir() ?? undefined)
        : undefined;
  const tfjsNodeModule = request.runtime === "tfjs-node" ? tfjsNodeEntry() : undefined;
  const message: ChildRequestInput = {
    runtime: request.runtime,
    backend: request.backend,
    format: request.format,
    modelDir,
    ...(request.modelFile ? { modelFile: request.modelFile } : {}),
    ...(wasmDir ? { wasmDir } : {}),
    ...(request.minRuns !== undefined ? { minRuns: request.minRuns } : {}),
    ...(request.maxBenchMs !== undefined ? { maxBenchMs: request.maxBenchMs } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
    ...(runtimeModule ? { runtimeModule } : {}),
    ...(tfjsNodeModule ? { tfjsNodeModule } : {}),
    ...(request.signature ? { signature: request.signature } : {}),
    ...(request.sampleOutputs ? { sampleOutputs: true } : {}),
  };
  return { root, workDir, argv, cgroup, isolation, memMiB, maxOldSpaceMiB, message };
}

/** What watching one child saw: how it ended, whether (and why) it was killed, and what it said. */
type Watched = {
  exit: { code: number | null; signal: NodeJS.Signals | null } | { error: Error };
  killedFor: { reason: KillReason; detail: string } | null;
  peakRss: number;
  result: ChildResult | null;
  stderr: string;
  wallMs: number;
};

/** Spawns the child and watches it until it exits: the timeout, the abort signal, the RSS watchdog and the protocol. */
async function superviseChild(run: PreparedRun, opts: SandboxOptions): Promise<Watched> {
  const started = performance.now();
  const child = spawn(run.argv[0]!, run.argv.slice(1), {
    env: EMPTY_ENV,
    cwd: run.workDir,
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  let killedFor: Watched["killedFor"] = null;
  let peakRss = 0;
  const killGroup = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      try {
        child.kill("SIGKILL");
      } catch {
        /* already gone */
      }
    }
  };
  const kill = (reason: KillReason, detail: string) => {
    killedFor ??= { reason, detail };
    killGroup();
  };

  const timer = setTimeout(
    () => kill("timeout", `did not finish within ${Math.round(opts.timeoutMs / 1000)} s`),
    opts.timeoutMs,
  );
  const onAbort = () =>
    kill("timeout", `was stopped: ${opts.signal?.reason instanceof Error ? opts.signal.reason.message : "aborted"}`);
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });
  const watchdog = setInterval(() => {
    if (!child.pid) return;
    const rss = readRss(child.pid);
    peakRss = Math.max(peakRss, rss);
    if (rss > opts.memoryBytes)
      kill("memory", `resident memory reached ${Math.round(rss / 1048576)} MiB, above the ${run.memMiB} MiB cap`);
  }, 50);

  let result: ChildResult | null = null;
  let stdoutBytes = 0;
  let pending = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    stdoutBytes += chunk.length;
    if (stdoutBytes > MAX_PROTOCOL_BYTES) return kill("protocol", "wrote more than 8 MiB to the protocol channel");
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.trim()) continue;
      let msg: ChildMessage;
      try {
        msg = childMessageSchema.parse(JSON.parse(line));
      } catch {
        return kill("protocol", `sent a message that is not in the protocol: ${line.slice(0, 200)}`);
      }
      if (msg.type === "progress") opts.onProgress?.(msg.stage);
      else if (result) return kill("protocol", "sent a second result");
      else result = msg;
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  child.stdin.on("error", () => {
    /* the child may exit before reading its request */
  });
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  child.stdin.end(JSON.stringify(run.message) + "\n");

  const exit = await Promise.race([
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("close", (code, signal) => resolve({ code, signal })),
    ),
    spawnError.then((err) => ({ error: err })),
  ]);
  clearTimeout(timer);
  clearInterval(watchdog);
  opts.signal?.removeEventListener("abort", onAbort);
  killGroup(); // nothing the child started may outlive it
  return { exit, killedFor, peakRss, result, stderr, wallMs: performance.now() - started };
}

/** Runs one validation request in a fresh sandboxed child. Never throws for what the child does. */
export async function runInSandbox(request: SandboxRequest, opts: SandboxOptions): Promise<SandboxOutcome> {
  const run = await prepareRun(request, opts);
  let watched: Watched;
  let oom = false;
  try {
    watched = await superviseChild(run, opts);
    oom = run.cgroup?.failed() ?? false;
  } finally {
    await run.cgroup?.remove();
    fs.rmSync(run.root, { recursive: true, force: true });
  }
  const { exit, killedFor, peakRss, result, stderr, wallMs } = watched;
  const { isolation, memMiB, maxOldSpaceMiB } = run;

  if ("error" in exit)
    throw new SandboxUnavailableError(`could not start the validation sandbox: ${exit.error.message}`);
  if (killedFor) {
    const { reason, detail } = killedFor;
    return { kind: "killed", reason, detail, isolation, wallMs, peakRssBytes: peakRss, stderr };
  }
  if (oom || (exit.signal === "SIGKILL" && !result)) {
    return {
      kind: "killed",
      reason: "memory",
      detail: `killed by the kernel at the ${memMiB} MiB memory cap`,
      isolation,
      wallMs,
      peakRssBytes: Math.max(peakRss, opts.memoryBytes),
      stderr,
    };
  }
  if (result) return { kind: "result", result, isolation, wallMs, stderr };
  if (/heap out of memory|Allocation failed/i.test(stderr)) {
    return {
      kind: "killed",
      reason: "memory",
      detail: `ran out of its ${maxOldSpaceMiB} MiB JavaScript heap`,
      isolation,
      wallMs,
      peakRssBytes: peakRss,
      stderr,
    };
  }
  const last = stderr.trim().split("\n").filter(Boolean).slice(-3).join(" | ");
  return {
    kind: "crashed",
    detail: `exited with ${exit.signal ?? `code ${exit.code}`} without a result${last ? `: ${last.slice(0, 500)}` : ""}`,
    isolation,
    wallMs,
    stderr,
  };
}
