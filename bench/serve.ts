// `npm run bench:serve`: Hubkeep's download path side by side with nginx serving the same files, on
// loopback, in one run, with the same load generator (wrk):
//   1. a 256 MiB pinned file (a TF.js shard), 16 concurrent clients: throughput ratio (goal >= 0.9x);
//   2. the small model.json: requests per second ratio (goal >= 0.5x);
//   3. p50/p99 latency of both;
//   and, for scale, the ceiling of Node itself on this machine: a minimal node:http server (no
//   routing, no auth, no database) streaming the same file with fs.createReadStream and answering
//   the same model.json from memory.
// Hubkeep runs as `npm start` runs it (embedded database, filesystem store) with an approved
// version holding the files; nginx (sendfile on, access log off) serves a folder of the same bytes.
// Needs nginx and wrk (Debian: apt-get install nginx-light wrk). BENCH_RUNS (default 3),
// BENCH_SECONDS (default 10), BENCH_SERVE_MIB (default 256), BENCH_CONNECTIONS (default 16),
// BENCH_PROFILE (a folder for the server's CPU profile).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { startServer, freePort } from "../test/helpers/server.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const MIB = Number(process.env.BENCH_SERVE_MIB ?? 256);
const CONNS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const HANDLE = "bench/tfjs-model/big/1/default";

function need(cmd: string, pkg: string) {
  if (spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0) {
    console.error(`bench:serve needs ${cmd}: install it with  apt-get install -y ${pkg}`);
    process.exit(2);
  }
}
need("nginx", "nginx-light");
need("wrk", "wrk");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

type WrkResult = { rps: number; bytesPerSec: number; p50: number; p99: number; errors: string };

/**
 * wrk's numbers: requests/s, bytes/s, latency percentiles (ms). Run without blocking this process:
 * it reads Hubkeep's stdout (a JSON log line per request), and a parent blocked in spawnSync would
 * let that pipe fill and stall the server it measures.
 */
async function wrk(url: string, connections: number): Promise<WrkResult> {
  const child = spawn("wrk", [`-t2`, `-c${connections}`, `-d${SECONDS}s`, "--latency", "--timeout", "60s", url]);
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
  child.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  if (code !== 0) throw new Error(`wrk failed: ${err}`);
  const unit = (v: string, u: string) =>
    Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60000 } as Record<string, number>)[u]!;
  const lat = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)`, "m").exec(out);
    return m ? unit(m[1]!, m[2]!) : NaN;
  };
  const size = (v: string, u: string) =>
    Number(v) * ({ B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 } as Record<string, number>)[u]!;
  const t = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: .*/.exec(out)?.[0] ?? "";
  return { rps: Number(rps?.[1]), bytesPerSec: t ? size(t[1]!, t[2]!) : NaN, p50: lat("50"), p99: lat("99"), errors };
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-bench-serve-"));
let nginx: ChildProcess | undefined;
let stopHubkeep: (() => Promise<unknown>) | undefined;
let stopBaseline: (() => unknown) | undefined;
try {
  // The files: a MIB MiB shard of pseudo-random bytes, and a model.json naming it.
  const files = path.join(work, "www", HANDLE, "1");
  fs.mkdirSync(files, { recursive: true });
  const shard = path.join(files, "group1-shard1of1.bin");
  const cipher = createCipheriv("aes-128-ctr", Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const fd = fs.openSync(shard, "w");
  for (let i = 0; i < MIB; i++) fs.writeSync(fd, cipher.update(Buffer.alloc(1024 * 1024)));
  fs.closeSync(fd);
  const modelJson = JSON.stringify({
    format: "graph-model",
    generatedBy: "bench",
    convertedBy: "bench",
    modelTopology: {
      node: [
        {
          name: "x",
          op: "Placeholder",
          attr: { dtype: { type: "DT_FLOAT" }, shape: { shape: { dim: [{ size: String(MIB * 262144) }] } } },
        },
      ],
    },
    weightsManifest: [
      { paths: ["group1-shard1of1.bin"], weights: [{ name: "w", shape: [MIB * 262144], dtype: "float32" }] },
    ],
  });
  fs.writeFileSync(path.join(files, "model.json"), modelJson);

  // Hubkeep's data: the files published as an approved version (set up in-process, then served by `npm start`).
  const dataDir = path.join(work, "data");
  process.env.HUBKEEP_DATA_DIR = dataDir;
  const { getEnv } = await import("../lib/env.ts");
  const { bootDatabase } = await import("../lib/server/boot.ts");
  const { getBlobStore } = await import("../lib/storage/index.ts");
  const { publishVersion } = await import("../lib/models/versions.ts");
  const { packTarGz } = await import("../lib/archive/pack.ts");
  const { db } = await import("../lib/db/client.ts");
  const booted = await bootDatabase(getEnv(), { holder: "bench:serve" });
  try {
    const store = getBlobStore();
    const shardBlob = await store.put(fs.createReadStream(shard));
    const jsonBlob = await store.put(Readable.from([Buffer.from(modelJson)]));
    const primary = await store.put(
      packTarGz([{ path: "model.json", size: modelJson.length, open: () => Readable.from([Buffer.from(modelJson)]) }]),
    );
    const v = await publishVersion({
      handle: HANDLE,
      version: 1,
      format: "tfjs_graph",
      source: { kind: "upload", userId: null },
      primary,
      files: [
        { path: "model.json", digest: jsonBlob.digest, size: jsonBlob.size },
        { path: "group1-shard1of1.bin", digest: shardBlob.digest, size: shardBlob.size },
      ],
      actor: null,
    });
    await (await db()).version.update({ where: { id: v.id }, data: { status: "approved", approvedAt: new Date() } });
    const want = createHash("sha256").update(fs.readFileSync(shard)).digest("hex");
    if (shardBlob.digest !== `sha256:${want}`) throw new Error("shard digest mismatch");
  } finally {
    await booted.db.close();
    booted.release();
  }
  // BENCH_PROFILE=<dir>: the server writes a CPU profile there when it stops (open it in Chrome's
  // DevTools or speedscope).
  const profile = process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : undefined;
  const hub = await startServer(
    { HUBKEEP_DATA_DIR: dataDir },
    { nodeArgs: profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [] },
  );
  stopHubkeep = () => hub.stop();

  const nginxPort = await freePort();
  const conf = path.join(work, "nginx.conf");
  fs.mkdirSync(path.join(work, "nginx-tmp"));
  fs.writeFileSync(
    conf,
    `daemon off; worker_processes auto; user root; pid ${work}/nginx.pid; error_log ${work}/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path ${work}/nginx-tmp; proxy_temp_path ${work}/nginx-tmp; fastcgi_temp_path ${work}/nginx-tmp; uwsgi_temp_path ${work}/nginx-tmp; scgi_temp_path ${work}/nginx-tmp;
  types { application/json json; application/octet-stream bin; }
  server { listen 127.0.0.1:${nginxPort}; root ${work}/www; etag on; } }
`,
  );
  nginx = spawn("nginx", ["-c", conf, "-p", work], { stdio: "ignore" });
  for (let i = 0; i < 50; i++) {
    if ((await fetch(`http://127.0.0.1:${nginxPort}/${HANDLE}/1/model.json`).catch(() => null))?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const basePort = await freePort();
  const baseline = spawn(
    process.execPath,
    [
      "-e",
      `
const http = require("node:http"), fs = require("node:fs");
const small = fs.readFileSync(${JSON.stringify(path.join(files, "model.json"))});
const big = ${JSON.stringify(shard)}, size = fs.statSync(big).size;
http.createServer((req, res) => {
  if (req.url.startsWith("/small")) { res.writeHead(200, { "content-type": "application/json", "content-length": small.length }); return res.end(small); }
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": size });
  fs.createReadStream(big, { highWaterMark: 1 << 20 }).pipe(res);
}).listen(${basePort}, "127.0.0.1");`,
    ],
    { stdio: "ignore" },
  );
  stopBaseline = () => baseline.kill("SIGTERM");
  for (let i = 0; i < 50; i++) {
    if ((await fetch(`http://127.0.0.1:${basePort}/small`).catch(() => null))?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const urls = {
    node: { big: `http://127.0.0.1:${basePort}/big`, small: `http://127.0.0.1:${basePort}/small` },
    hubkeep: {
      big: `${hub.url}/${HANDLE}/1/group1-shard1of1.bin`,
      small: `${hub.url}/${HANDLE}/1/model.json?tfjs-format=file`,
    },
    nginx: {
      big: `http://127.0.0.1:${nginxPort}/${HANDLE}/1/group1-shard1of1.bin`,
      small: `http://127.0.0.1:${nginxPort}/${HANDLE}/1/model.json`,
    },
  };
  for (const [who, u] of Object.entries(urls)) {
    const r = await fetch(u.big);
    const got = createHash("sha256")
      .update(new Uint8Array(await r.arrayBuffer()))
      .digest("hex");
    if (
      r.status !== 200 ||
      `sha256:${got}` !== (await fetch(urls.hubkeep.big, { method: "HEAD" })).headers.get("etag")?.replace(/"/g, "")
    )
      throw new Error(`${who} does not serve the same bytes`);
  }

  type Series = { big: WrkResult[]; small: WrkResult[] };
  const results: Record<"hubkeep" | "nginx" | "node", Series> = {
    hubkeep: { big: [], small: [] },
    nginx: { big: [], small: [] },
    node: { big: [], small: [] },
  };
  for (let i = 0; i < RUNS; i++) {
    // Alternate who goes first so drift on a noisy machine hits both.
    const order = i % 2 === 0 ? (["nginx", "hubkeep", "node"] as const) : (["node", "hubkeep", "nginx"] as const);
    for (const who of order) {
      results[who].big.push(await wrk(urls[who].big, CONNS));
      results[who].small.push(await wrk(urls[who].small, CONNS));
    }
    process.stderr.write(".");
  }
  process.stderr.write("\n");
  const med = (who: "hubkeep" | "nginx" | "node", kind: "big" | "small", k: "rps" | "bytesPerSec" | "p50" | "p99") =>
    median(results[who][kind].map((r) => r[k]));
  const mibs = (b: number) => (b / 1048576).toFixed(0);
  console.log(
    `bench:serve  (${RUNS} runs of ${SECONDS} s, medians; wrk -t2 -c${CONNS}; node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length}; everything on this machine)`,
  );
  console.log(`  ${MIB} MiB pinned file, ${CONNS} clients:`);
  console.log(
    `    nginx   ${mibs(med("nginx", "big", "bytesPerSec"))} MiB/s  p50 ${med("nginx", "big", "p50").toFixed(0)} ms  p99 ${med("nginx", "big", "p99").toFixed(0)} ms`,
  );
  console.log(
    `    hubkeep ${mibs(med("hubkeep", "big", "bytesPerSec"))} MiB/s  p50 ${med("hubkeep", "big", "p50").toFixed(0)} ms  p99 ${med("hubkeep", "big", "p99").toFixed(0)} ms`,
  );
  console.log(
    `    node:http baseline ${mibs(med("node", "big", "bytesPerSec"))} MiB/s  (hubkeep/node = ${(med("hubkeep", "big", "bytesPerSec") / med("node", "big", "bytesPerSec")).toFixed(2)}x)`,
  );
  console.log(
    `    throughput hubkeep/nginx = ${(med("hubkeep", "big", "bytesPerSec") / med("nginx", "big", "bytesPerSec")).toFixed(2)}x (goal >= 0.9x)`,
  );
  console.log(`  model.json (${modelJson.length} B), ${CONNS} clients:`);
  console.log(
    `    nginx   ${med("nginx", "small", "rps").toFixed(0)} req/s  p50 ${med("nginx", "small", "p50").toFixed(2)} ms  p99 ${med("nginx", "small", "p99").toFixed(2)} ms`,
  );
  console.log(
    `    hubkeep ${med("hubkeep", "small", "rps").toFixed(0)} req/s  p50 ${med("hubkeep", "small", "p50").toFixed(2)} ms  p99 ${med("hubkeep", "small", "p99").toFixed(2)} ms`,
  );
  console.log(
    `    node:http baseline ${med("node", "small", "rps").toFixed(0)} req/s  (hubkeep/node = ${(med("hubkeep", "small", "rps") / med("node", "small", "rps")).toFixed(2)}x)`,
  );
  console.log(
    `    requests/s hubkeep/nginx = ${(med("hubkeep", "small", "rps") / med("nginx", "small", "rps")).toFixed(2)}x (goal >= 0.5x)`,
  );
  const errs = [...results.hubkeep.big, ...results.hubkeep.small].map((r) => r.errors).filter(Boolean);
  if (errs.length) console.log(`  hubkeep errors reported by wrk: ${errs.join("; ")}`);
} finally {
  nginx?.kill("SIGTERM");
  stopBaseline?.();
  await stopHubkeep?.();
  fs.rmSync(work, { recursive: true, force: true });
}
