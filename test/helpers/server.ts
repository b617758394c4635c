// Runs the real product (`npm start`'s entry, scripts/start.mjs) as a child process on a free
// loopback port, for tests that need a running server.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export type RunningServer = {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
};

/** The variables a test server inherits: PATH and friends, never the CI's DATABASE_URL/S3 unless passed. */
export function baseEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "TMPDIR", "LANG", "NODE_OPTIONS", "HUBKEEP_TEST_RUN"];
  const env: NodeJS.ProcessEnv = { NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" };
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** Starts the server and resolves once it prints its ready line (rejects if it exits first). */
export async function startServer(
  env: Record<string, string | undefined>,
  opts: { timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<RunningServer> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  // nodeArgs: flags for the server's node (bench:serve passes --cpu-prof when BENCH_PROFILE is set).
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), path.join(ROOT, "scripts/start.mjs")], {
    cwd: ROOT,
    env: baseEnv({ HUBKEEP_HOST: "127.0.0.1", ...env, PORT: String(port) }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  // Kept to its last 4 MiB: a long run logs a JSON line per request.
  const keep = (d: Buffer) => {
    out += d.toString("utf8");
    if (out.length > 8 * 1024 * 1024) out = out.slice(-4 * 1024 * 1024);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready in time:\n${out}`)), opts.timeoutMs ?? 120_000);
    const check = () => {
      if (/hubkeep: ready: /.test(out)) {
        clearTimeout(timer);
        // Stop scanning: afterwards every request adds a log line, and re-reading all of them
        // per chunk would cost the test (and a benchmark) a core.
        child.stdout.off("data", check);
        resolve();
      }
    };
    child.stdout.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${out}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const code = await exited;
      clearTimeout(kill);
      return code;
    },
  };
}

/** Runs a command to completion and returns its exit code and output. */
export async function runCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr, ms: Date.now() - started };
}
