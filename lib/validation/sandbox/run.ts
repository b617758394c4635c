// Runs untrusted model code in a fresh child process and reports what it said and what was enforced.
//
// What each run gets (and reports in `isolation`, so the UI and API say what was really in force):
// - env: empty (no database URL, S3 keys or auth secret reach the child);
// - fs: Node's permission model: read only the model folder, the child script and the runtime
//   packages it imports; write only its own private temp folder; no child processes, no worker
//   threads, no native addons (Node 20 has no --allow-addons);
// - network: a fresh network namespace with no interfaces up (`unshare --net`, or bubblewrap's
//   `--unshare-net`) where the host allows it; otherwise "none", said plainly;
// - memory: --max-old-space-size, a memory cgroup where one can be created, and an RSS watchdog
//   (always) that SIGKILLs the child above the cap;
// - time: a wall-clock timeout ending in SIGKILL of the child's whole process group.
// The child speaks JSON lines on stdout, each checked against `childMessageSchema`.
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { runtimeBundle } from "../runtimes/bundle.ts";

const require = createRequire(import.meta.url);
const EMPTY_ENV = {} as NodeJS.ProcessEnv;
// An optional dependency, usually absent: a computed name keeps bundlers from chasing it.
const TFJS_NODE = ["@tensorflow", "tfjs-node"].join("/");
export const CHILD_SCRIPT = fileURLToPath(new URL("./child.mjs", import.meta.url));

const tensorSchema = z.object({ name: z.string().max(512), dtype: z.string().max(32), shape: z.array(z.number().int()).max(64).nullable() });
const benchSchema = z.object({
  batch: z.number().int().min(1),
  firstInferenceMs: z.number().nonnegative(),
  p50Ms: z.number().nonnegative(),
  p95Ms: z.number().nonnegative(),
  p99Ms: z.number().nonnegative(),
  throughputPerSec: z.number().nonnegative(),
  samplesMs: z.array(z.number().nonnegative()).max(1000),
});
export const childResultSchema = z.discriminatedUnion("ok", [
  z.object({
    type: z.literal("result"),
    ok: z.literal(true),
    runtime: z.string().max(32),
    backend: z.string().max(32),
    loadMs: z.number().nonnegative(),
    paramCount: z.number().int().nonnegative().nullable(),
    inputs: z.array(tensorSchema).max(256),
    outputs: z.array(tensorSchema.extend({ nonFinite: z.object({ nan: z.number().int().min(0), inf: z.number().int().min(0) }), sample: z.array(z.number()).max(16).optional() })).max(256),
    benchmarks: z.array(benchSchema).max(4),
    peakRssBytes: z.number().int().nonnegative(),
    nodeVersion: z.string().max(32),
    cpuModel: z.string().max(256),
    /** savedmodel-js: what the conversion did. */
    conversion: z
      .object({
        runtime: z.string().max(64),
        signature: z.string().max(256),
        convertMs: z.number().nonnegative(),
        nodes: z.number().int().nonnegative(),
        functions: z.number().int().nonnegative(),
        inlinedCalls: z.number().int().nonnegative(),
        frozenVariables: z.number().int().nonnegative(),
        parameters: z.number().int().nonnegative(),
      })
      .optional(),
  }),
  z.object({
    type: z.literal("result"),
    ok: z.literal(false),
    finding: z.boolean().optional(),
    /** The runtime cannot run this model (an op, an input, a variable write): not the model's fault. */
    unsupported: z.boolean().optional(),
    op: z.string().max(128).optional(),
    error: z.string().max(2000),
    peakRssBytes: z.number().int().nonnegative().optional(),
  }),
]);
const childMessageSchema = z.union([z.object({ type: z.literal("progress"), stage: z.string().max(32) }), childResultSchema]);
export type ChildResult = z.infer<typeof childResultSchema>;

export type SandboxRequest = {
  runtime: "tfjs" | "tfjs-node" | "savedmodel-js";
  backend: "wasm" | "cpu" | "tensorflow";
  format: "tfjs_graph" | "tfjs_layers" | "saved_model" | "tf1_hub";
  modelDir: string;
  minRuns?: number;
  maxBenchMs?: number;
  seed?: number;
  /** savedmodel-js: the signature to run (default: serving_default, default, or the first). */
  signature?: string;
  /** Report the first output values too (to compare runtimes). */
  sampleOutputs?: boolean;
};

export type Isolation = {
  env: "empty";
  fs: string;
  network: string;
  processes: string;
  memory: { capBytes: number; maxOldSpaceMiB: number; cgroup: string | null; rssWatchdog: true };
  timeoutMs: number;
};

export type SandboxOutcome =
  | { kind: "result"; result: ChildResult; isolation: Isolation; wallMs: number; stderr: string }
  | { kind: "killed"; reason: "timeout" | "memory" | "protocol"; detail: string; isolation: Isolation; wallMs: number; peakRssBytes: number; stderr: string }
  | { kind: "crashed"; detail: string; isolation: Isolation; wallMs: number; stderr: string };

/** A failure of the host, not of the model: the sandbox could not be started. The job retries. */
export class SandboxUnavailableError extends Error {}

type NetworkWrapper = { argv: string[]; name: string };
let cachedNetwork: NetworkWrapper | null | undefined;

/** Finds a way to give the child an empty network namespace, tried once per process. */
export function networkWrapper(): NetworkWrapper | null {
  if (cachedNetwork !== undefined) return cachedNetwork;
  const probe = (argv: string[]) => spawnSync(argv[0]!, [...argv.slice(1), "true"], { stdio: "ignore", timeout: 5000, env: EMPTY_ENV }).status === 0;
  const unshare = ["/usr/bin/unshare", "/bin/unshare"].find((p) => fs.existsSync(p));
  const bwrap = ["/usr/bin/bwrap", "/bin/bwrap"].find((p) => fs.existsSync(p));
  if (unshare && probe([unshare, "--net", "--"])) cachedNetwork = { argv: [unshare, "--net", "--"], name: "isolated: empty network namespace (unshare --net); no interfaces, not even loopback" };
  else if (bwrap && probe([bwrap, "--unshare-net", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--"]))
    cachedNetwork = { argv: [bwrap, "--unshare-net", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--"], name: "isolated: empty network namespace (bubblewrap --unshare-net)" };
  else cachedNetwork = null;
  return cachedNetwork;
}

type Cgroup = { dir: string; procs: string; name: string; failed(): boolean; remove(): void };

/** Creates a memory cgroup (v2, or v1's memory hierarchy) capped at `bytes`, or null where not allowed. */
function createMemoryCgroup(bytes: number): Cgroup | null {
  const id = `hubkeep-sandbox-${process.pid}-${randomBytes(4).toString("hex")}`;
  const tries: Array<{ base: string; limit: string; swap?: string; events: string; kind: string }> = [
    { base: "/sys/fs/cgroup/memory", limit: "memory.limit_in_bytes", swap: "memory.memsw.limit_in_bytes", events: "memory.failcnt", kind: "v1" },
  ];
  if (fs.existsSync("/sys/fs/cgroup/cgroup.controllers")) {
    const own = fs.readFileSync("/proc/self/cgroup", "utf8").match(/^0::(.*)$/m)?.[1] ?? "/";
    tries.unshift({ base: path.join("/sys/fs/cgroup", own), limit: "memory.max", swap: "memory.swap.max", events: "memory.events", kind: "v2" });
  }
  for (const t of tries) {
    const dir = path.join(t.base, id);
    try {
      if (!fs.existsSync(path.join(t.base, t.limit))) continue;
      fs.mkdirSync(dir);
    } catch {
      continue;
    }
    try {
      fs.writeFileSync(path.join(dir, t.limit), String(bytes));
      if (t.swap && fs.existsSync(path.join(dir, t.swap))) {
        try {
          fs.writeFileSync(path.join(dir, t.swap), t.kind === "v2" ? "0" : String(bytes));
        } catch {
          /* swap accounting may be off; the memory limit still holds */
        }
      }
      return {
        dir,
        procs: path.join(dir, "cgroup.procs"),
        name: `memory cgroup ${t.kind} (${t.limit}=${bytes})`,
        failed() {
          try {
            const text = fs.readFileSync(path.join(dir, t.events), "utf8");
            if (t.kind === "v1") return Number(text.trim()) > 0;
            return /^(oom_kill|max) [1-9]/m.test(text);
          } catch {
            return false;
          }
        },
        remove() {
          for (let i = 0; i < 20; i++) {
            try {
              fs.rmdirSync(dir);
              return;
            } catch {
              const until = Date.now() + 25;
              while (Date.now() < until) {
                /* the kernel releases a killed task's cgroup a moment after it is reaped */
              }
            }
          }
        },
      };
    } catch {
      try {
        fs.rmdirSync(dir);
      } catch {
        /* ignore */
      }
    }
  }
  return null;
}

/** The folders the child may read: its script and every package the runtime imports (transitively). */
export function runtimeReadPaths(runtime: SandboxRequest["runtime"]): string[] {
  const roots = runtime === "tfjs-node" ? ["@tensorflow/tfjs-node", "zod"] : ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-converter", "@tensorflow/tfjs-layers", "zod"];
  const seen = new Set<string>();
  const visit = (name: string, from: string) => {
    let pkgJson: string;
    try {
      pkgJson = createRequire(path.join(from, "noop.js")).resolve(`${name}/package.json`);
    } catch {
      return; // optional or types-only dependency that is not installed
    }
    const dir = path.dirname(pkgJson);
    if (seen.has(dir)) return;
    seen.add(dir);
    const pkg = JSON.parse(fs.readFileSync(pkgJson, "utf8")) as { dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })) if (!dep.startsWith("@types/")) visit(dep, dir);
  };
  for (const r of roots) visit(r, path.dirname(CHILD_SCRIPT));
  return [...seen].sort();
}

/** Whether tfjs-node can run here: installed, with its native binding, and addons allowed under the permission model. */
export function tfjsNodeAvailable(): { ok: boolean; reason: string } {
  let dir: string;
  try {
    dir = path.dirname(require.resolve(`${TFJS_NODE}/package.json`));
  } catch {
    return { ok: false, reason: "@tensorflow/tfjs-node is not installed (it needs libtensorflow, which its installer downloads)" };
  }
  const binding = fs.existsSync(path.join(dir, "lib")) && fs.readdirSync(path.join(dir, "lib")).some((d) => fs.existsSync(path.join(dir, "lib", d, "tfjs_binding.node")));
  if (!binding) return { ok: false, reason: "@tensorflow/tfjs-node is installed without its native binding (its install script did not run)" };
  if (!process.allowedNodeEnvironmentFlags.has("--allow-addons")) return { ok: false, reason: `Node ${process.version} cannot allow native addons under the permission model (needs Node 21.6 or later)` };
  return { ok: true, reason: "tfjs-node with libtensorflow" };
}

function readRss(pid: number): number {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export type SandboxOptions = {
  timeoutMs: number;
  memoryBytes: number;
  /** Tests only: run another script under the same sandbox (it gets the same read rights as child.mjs). */
  script?: string;
  onProgress?: (stage: string) => void;
  /** Aborting (the job's budget ran out, or the worker stops) kills the child like the timeout. */
  signal?: AbortSignal;
};

/** Runs one validation request in a fresh sandboxed child. Never throws for what the child does. */
export async function runInSandbox(request: SandboxRequest, opts: SandboxOptions): Promise<SandboxOutcome> {
  const script = opts.script ?? CHILD_SCRIPT;
  let runtimeModule: string | undefined;
  try {
    runtimeModule = request.runtime === "savedmodel-js" ? await runtimeBundle("savedmodel-js") : undefined;
  } catch (err) {
    throw new SandboxUnavailableError(`could not build the ${request.runtime} runtime for the sandbox: ${(err as Error).message}`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-sandbox-"));
  fs.chmodSync(tmp, 0o700);
  const memMiB = Math.max(64, Math.floor(opts.memoryBytes / 1024 / 1024));
  const maxOldSpaceMiB = Math.max(32, Math.floor(memMiB * 0.75));
  const modelDir = path.resolve(request.modelDir);
  const readPaths = [modelDir, path.dirname(script), ...(runtimeModule ? [path.dirname(runtimeModule)] : []), ...runtimeReadPaths(request.runtime)];
  const wasmDir = request.runtime !== "tfjs-node" ? path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") : undefined;
  const nodeArgs = [
    "--no-warnings",
    "--experimental-permission",
    ...readPaths.map((p) => `--allow-fs-read=${p}/*`),
    ...(script !== CHILD_SCRIPT ? [`--allow-fs-read=${script}`] : []),
    `--allow-fs-write=${tmp}/*`,
    ...(request.runtime === "tfjs-node" && tfjsNodeAvailable().ok ? ["--allow-addons"] : []),
    `--max-old-space-size=${maxOldSpaceMiB}`,
    script,
  ];
  const net = networkWrapper();
  const cgroup = createMemoryCgroup(Math.max(64 * 1024 * 1024, opts.memoryBytes));
  let argv = [...(net?.argv ?? []), process.execPath, ...nodeArgs];
  // Joins the cgroup before exec'ing the child, so every byte it allocates is counted.
  if (cgroup) argv = ["/bin/sh", "-c", 'echo $$ > "$0" && unset PWD OLDPWD && exec "$@"', cgroup.procs, ...argv];
  const isolation: Isolation = {
    env: "empty",
    fs: `node permission model: read ${readPaths.length} folders (the model, the child script, the runtime packages); write only a private temp folder`,
    network: net?.name ?? "NOT isolated: neither unshare --net nor bubblewrap is usable on this host",
    processes: "denied: the permission model refuses child processes, worker threads and native addons",
    memory: { capBytes: opts.memoryBytes, maxOldSpaceMiB, cgroup: cgroup?.name ?? null, rssWatchdog: true },
    timeoutMs: opts.timeoutMs,
  };

  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { env: EMPTY_ENV, cwd: tmp, stdio: ["pipe", "pipe", "pipe"], detached: true });
  let killedFor: { reason: "timeout" | "memory" | "protocol"; detail: string } | null = null;
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
  const kill = (reason: "timeout" | "memory" | "protocol", detail: string) => {
    if (!killedFor) killedFor = { reason, detail };
    killGroup();
  };

  const timer = setTimeout(() => kill("timeout", `did not finish within ${Math.round(opts.timeoutMs / 1000)} s`), opts.timeoutMs);
  const onAbort = () => kill("timeout", `was stopped: ${opts.signal?.reason instanceof Error ? opts.signal.reason.message : "aborted"}`);
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });
  const watchdog = setInterval(() => {
    if (!child.pid) return;
    const rss = readRss(child.pid);
    peakRss = Math.max(peakRss, rss);
    if (rss > opts.memoryBytes) kill("memory", `resident memory reached ${Math.round(rss / 1048576)} MiB, above the ${memMiB} MiB cap`);
  }, 50);

  let result: ChildResult | null = null;
  let stdoutBytes = 0;
  let pending = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    stdoutBytes += chunk.length;
    if (stdoutBytes > 8 * 1024 * 1024) return kill("protocol", "wrote more than 8 MiB to the protocol channel");
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.trim()) continue;
      let msg: z.infer<typeof childMessageSchema>;
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
  child.stdin.end(
    JSON.stringify({
      runtime: request.runtime,
      backend: request.backend,
      format: request.format,
      modelDir,
      wasmDir,
      minRuns: request.minRuns ?? 20,
      maxBenchMs: request.maxBenchMs ?? 2000,
      seed: request.seed ?? 1,
      ...(runtimeModule ? { runtimeModule } : {}),
      ...(request.signature ? { signature: request.signature } : {}),
      ...(request.sampleOutputs ? { sampleOutputs: true } : {}),
    }) + "\n",
  );

  const exit = await Promise.race([
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("close", (code, signal) => resolve({ code, signal }))),
    spawnError.then((err) => ({ error: err })),
  ]);
  clearTimeout(timer);
  clearInterval(watchdog);
  opts.signal?.removeEventListener("abort", onAbort);
  killGroup(); // nothing the child started may outlive it
  const wallMs = performance.now() - started;
  const oom = cgroup?.failed() ?? false;
  cgroup?.remove();
  fs.rmSync(tmp, { recursive: true, force: true });

  if ("error" in exit) throw new SandboxUnavailableError(`could not start the validation sandbox: ${exit.error.message}`);
  if (killedFor) {
    const k = killedFor as { reason: "timeout" | "memory" | "protocol"; detail: string };
    return { kind: "killed", reason: k.reason, detail: k.detail, isolation, wallMs, peakRssBytes: peakRss, stderr };
  }
  if (oom || (exit.signal === "SIGKILL" && !result)) {
    return { kind: "killed", reason: "memory", detail: `killed by the kernel at the ${memMiB} MiB memory cap`, isolation, wallMs, peakRssBytes: Math.max(peakRss, opts.memoryBytes), stderr };
  }
  if (result) return { kind: "result", result, isolation, wallMs, stderr };
  if (/heap out of memory|Allocation failed/i.test(stderr)) {
    return { kind: "killed", reason: "memory", detail: `ran out of its ${maxOldSpaceMiB} MiB JavaScript heap`, isolation, wallMs, peakRssBytes: peakRss, stderr };
  }
  const last = stderr.trim().split("\n").filter(Boolean).slice(-3).join(" | ");
  return { kind: "crashed", detail: `exited with ${exit.signal ?? `code ${exit.code}`} without a result${last ? `: ${last.slice(0, 500)}` : ""}`, isolation, wallMs, stderr };
}
