// What confines a sandbox child, and what the host offers for it: an empty environment, Node's
// permission model (the folders it may read, the one it may write, native addons only for
// tfjs-node), an empty network namespace (`unshare --net`, or bubblewrap's `--unshare-net`) where the
// host allows one, and a memory cgroup (v2, or v1's memory hierarchy) where one can be created.
// `describeIsolation` says what was really in force, for the run's `isolation` evidence.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Isolation } from "../evidence.ts";
import type { SandboxRuntime } from "./protocol.ts";

const require = createRequire(import.meta.url);
/** The child's environment: no database URL, S3 keys or auth secret reach it. */
export const EMPTY_ENV = {} as NodeJS.ProcessEnv;
// An optional dependency, usually absent: a computed name keeps bundlers from chasing it.
const TFJS_NODE = ["@tensorflow", "tfjs-node"].join("/");
const HERE = path.dirname(fileURLToPath(import.meta.url));

/** A command prefix that runs its argument in an empty network namespace, and how to say so. */
export type NetworkWrapper = { argv: string[]; name: string };
let cachedNetwork: NetworkWrapper | null | undefined;

/** Finds a way to give the child an empty network namespace, tried once per process. */
export function findNetworkWrapper(): NetworkWrapper | null {
  if (cachedNetwork !== undefined) return cachedNetwork;
  const probe = (argv: string[]) =>
    spawnSync(argv[0]!, [...argv.slice(1), "true"], { stdio: "ignore", timeout: 5000, env: EMPTY_ENV }).status === 0;
  const unshare = ["/usr/bin/unshare", "/bin/unshare"].find((p) => fs.existsSync(p));
  const bwrap = ["/usr/bin/bwrap", "/bin/bwrap"].find((p) => fs.existsSync(p));
  const candidates: NetworkWrapper[] = [
    ...(unshare
      ? [
          {
            argv: [unshare, "--net", "--"],
            name: "isolated: empty network namespace (unshare --net); no interfaces, not even loopback",
          },
        ]
      : []),
    ...(bwrap
      ? [
          {
            argv: [
              bwrap,
              "--unshare-net",
              "--die-with-parent",
              "--ro-bind",
              "/",
              "/",
              "--dev",
              "/dev",
              "--proc",
              "/proc",
              "--",
            ],
            name: "isolated: empty network namespace (bubblewrap --unshare-net)",
          },
        ]
      : []),
  ];
  cachedNetwork = candidates.find((c) => probe(c.argv)) ?? null;
  return cachedNetwork;
}

/** A memory cgroup made for one child: join it through `procs`; remove it once the child is gone. */
export type MemoryCgroup = { procs: string; name: string; failed(): boolean; remove(): Promise<void> };

/** Creates a memory cgroup (v2, or v1's memory hierarchy) capped at `bytes`, or null where not allowed. */
export function createMemoryCgroup(bytes: number): MemoryCgroup | null {
  const id = `hubkeep-sandbox-${process.pid}-${randomBytes(4).toString("hex")}`;
  const tries: Array<{ base: string; limit: string; swap?: string; events: string; kind: string }> = [
    {
      base: "/sys/fs/cgroup/memory",
      limit: "memory.limit_in_bytes",
      swap: "memory.memsw.limit_in_bytes",
      events: "memory.failcnt",
      kind: "v1",
    },
  ];
  if (fs.existsSync("/sys/fs/cgroup/cgroup.controllers")) {
    const own = fs.readFileSync("/proc/self/cgroup", "utf8").match(/^0::(.*)$/m)?.[1] ?? "/";
    tries.unshift({
      base: path.join("/sys/fs/cgroup", own),
      limit: "memory.max",
      swap: "memory.swap.max",
      events: "memory.events",
      kind: "v2",
    });
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
        async remove() {
          for (let i = 0; i < 20; i++) {
            try {
              fs.rmdirSync(dir);
              return;
            } catch {
              await sleep(25); // the kernel releases a killed task's cgroup a moment after it is reaped
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

const TFJS_PACKAGES = [
  "@tensorflow/tfjs-core",
  "@tensorflow/tfjs-backend-cpu",
  "@tensorflow/tfjs-backend-wasm",
  "@tensorflow/tfjs-converter",
  "@tensorflow/tfjs-layers",
];
/** The packages each runtime imports (their dependencies are followed). */
const RUNTIME_PACKAGES: Record<SandboxRuntime, string[]> = {
  "tfjs-node": ["@tensorflow/tfjs-node"],
  tfjs: TFJS_PACKAGES,
  "savedmodel-js": TFJS_PACKAGES,
  // tfjs-tflite's node entry requires tfjs-core (its peer dependency); it needs no backend.
  "tfjs-tflite": ["@tensorflow/tfjs-tflite"],
  litert: ["@litertjs/core"],
};

/** The folders of every package the runtime imports (transitively): the child may read them. */
export function runtimeReadPaths(runtime: SandboxRuntime): string[] {
  const roots = RUNTIME_PACKAGES[runtime];
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
    const pkg = JSON.parse(fs.readFileSync(pkgJson, "utf8")) as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }))
      if (!dep.startsWith("@types/")) visit(dep, dir);
  };
  for (const r of roots) visit(r, HERE);
  return [...seen].sort();
}

/** Whether tfjs-node can run here: installed, with its native binding, and addons allowed under the permission model. */
export function tfjsNodeAvailable(): { ok: boolean; reason: string } {
  let dir: string;
  try {
    dir = path.dirname(require.resolve(`${TFJS_NODE}/package.json`));
  } catch {
    return {
      ok: false,
      reason: "@tensorflow/tfjs-node is not installed (it needs libtensorflow, which its installer downloads)",
    };
  }
  const binding =
    fs.existsSync(path.join(dir, "lib")) &&
    fs.readdirSync(path.join(dir, "lib")).some((d) => fs.existsSync(path.join(dir, "lib", d, "tfjs_binding.node")));
  if (!binding)
    return {
      ok: false,
      reason: "@tensorflow/tfjs-node is installed without its native binding (its install script did not run)",
    };
  if (!process.allowedNodeEnvironmentFlags.has("--allow-addons"))
    return {
      ok: false,
      reason: `Node ${process.version} cannot allow native addons under the permission model (needs Node 21.6 or later)`,
    };
  return { ok: true, reason: "tfjs-node with libtensorflow" };
}

/** The file URL of tfjs-node's entry point, or undefined when it is not installed. */
export function tfjsNodeEntry(): string | undefined {
  try {
    return pathToFileURL(require.resolve(TFJS_NODE)).href;
  } catch {
    return undefined;
  }
}

/** The tfjs-backend-wasm folder with its .wasm binaries, or null when the package is missing. */
export function wasmDistDir(): string | null {
  try {
    return path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist");
  } catch {
    return null;
  }
}

/** The files a TFLite runtime loads from its `wasm/` folder: the build the host shims pick. */
const TFLITE_BUILDS = {
  "tfjs-tflite": {
    pkg: "@tensorflow/tfjs-tflite",
    files: ["tflite_web_api_cc_simd.js", "tflite_web_api_cc_simd.wasm"],
  },
  // LiteRT.js picks its relaxed-SIMD build where the engine has relaxed SIMD, its compat build elsewhere.
  litert: { pkg: "@litertjs/core", files: ["litert_wasm_compat_internal.js", "litert_wasm_compat_internal.wasm"] },
} as const;

/** The `wasm/` folder of a TFLite runtime, or null when the package (or its build) is not installed. */
export function tfliteWasmDir(runtime: "tfjs-tflite" | "litert"): string | null {
  const { pkg, files } = TFLITE_BUILDS[runtime];
  try {
    const dir = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "wasm");
    return files.every((f) => fs.existsSync(path.join(dir, f))) ? dir : null;
  } catch {
    return null;
  }
}

/**
 * Node's permission-model flags: read the folders (and single files) given, write only `writeDir`;
 * child processes and worker threads are always refused, native addons unless `addons`.
 */
export function permissionFlags(p: {
  readDirs: string[];
  readFiles: string[];
  writeDir: string;
  addons: boolean;
}): string[] {
  return [
    "--experimental-permission",
    ...p.readDirs.map((d) => `--allow-fs-read=${d}/*`),
    ...p.readFiles.map((f) => `--allow-fs-read=${f}`),
    `--allow-fs-write=${p.writeDir}/*`,
    ...(p.addons ? ["--allow-addons"] : []),
  ];
}

/** What a run's confinement amounts to, in the words the UI and the API show. */
export function describeIsolation(p: {
  readDirs: number;
  /** The run reads its model as one file (TFLite) rather than a folder. */
  modelFile?: boolean;
  network: NetworkWrapper | null;
  cgroup: MemoryCgroup | null;
  capBytes: number;
  maxOldSpaceMiB: number;
  timeoutMs: number;
}): Isolation {
  return {
    env: "empty",
    fs: p.modelFile
      ? `node permission model: read the model file and ${p.readDirs} folders (the child script, the runtime packages); write only a private temp folder`
      : `node permission model: read ${p.readDirs} folders (the model, the child script, the runtime packages); write only a private temp folder`,
    network: p.network?.name ?? "NOT isolated: neither unshare --net nor bubblewrap is usable on this host",
    processes: "denied: the permission model refuses child processes, worker threads and native addons",
    memory: {
      capBytes: p.capBytes,
      maxOldSpaceMiB: p.maxOldSpaceMiB,
      cgroup: p.cgroup?.name ?? null,
      rssWatchdog: true,
    },
    timeoutMs: p.timeoutMs,
  };
}
