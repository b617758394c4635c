// GET /metrics on a real server: the contract's metric names, label values that are route templates
// (200 distinct handles add no series), the bearer token when HUBKEEP_METRICS_TOKEN is set, the
// global readings from the database; and `npm run worker`'s own endpoint on HUBKEEP_METRICS_PORT.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { startServer, baseEnv, freePort, ROOT, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";

const TOKEN = "metrics-secret-1234";
let server: RunningServer;
let dataDir: string;
let env: Record<string, string | undefined>;
let dropDb: (() => Promise<void>) | undefined;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-metrics-"));
  env = { HUBKEEP_DATA_DIR: dataDir, HUBKEEP_METRICS_TOKEN: TOKEN };
  if (usingPostgres()) {
    const created = await createEmptyPostgresDatabase();
    env.DATABASE_URL = created.url;
    dropDb = created.drop;
  }
  server = await startServer(env);
});

after(async () => {
  await server?.stop();
  await dropDb?.();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function scrape(url = `${server.url}/metrics`): Promise<string> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The sample lines of one metric (its series). */
const series = (text: string, name: string) =>
  text.split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

test("/metrics needs the token when HUBKEEP_METRICS_TOKEN is set", async () => {
  assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
  assert.equal((await fetch(`${server.url}/metrics`, { headers: { authorization: "Bearer wrong" } })).status, 401);
  assert.equal((await fetch(`${server.url}/metrics`, { method: "POST" })).status, 405);
  await scrape();
});

test("the contract's metrics are there, with route templates for labels; 200 handles add no series", async () => {
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  const before = series(await scrape(), "hubkeep_http_requests_total").length;
  for (let i = 0; i < 200; i++) {
    const r = await fetch(`${server.url}/org${i}/model-${i}/${i + 1}?tf-hub-format=compressed`);
    await r.arrayBuffer();
    assert.equal(r.status, 404);
  }
  const text = await scrape();
  const http = series(text, "hubkeep_http_requests_total");
  assert.ok(http.length <= before + 2, `series grew from ${before} to ${http.length}:\n${http.join("\n")}`);
  assert.ok(!/org\d|model-\d/.test(text), "a handle leaked into a label");
  const hub = http.find((l) => l.includes('route="/{handle}/{n}"') && l.includes('status="404"'));
  assert.ok(hub, http.join("\n"));
  assert.equal(Number(hub.split(" ").pop()), 200);
  assert.ok(
    http.some((l) => l.includes('route="/healthz"') && l.includes('method="GET"') && l.includes('status="200"')),
  );
  assert.ok(series(text, "hubkeep_http_request_duration_seconds_count").length > 0);
  assert.match(text, /^hubkeep_build_info\{version="\d+\.\d+\.\d+"\} 1$/m);
  // Global readings from the database: every version status, and the job queues.
  for (const status of ["pending", "validated", "approved", "rejected"])
    assert.match(text, new RegExp(`^hubkeep_versions\\{status="${status}"\\} 0$`, "m"));
  assert.match(text, /^hubkeep_jobs_queue_depth\{queue="validate-version"\} \d+$/m);
  assert.match(text, /^hubkeep_jobs_oldest_age_seconds\{queue="validate-version"\} [\d.e+-]+$/m);
  for (const name of ["hubkeep_downloads_total", "hubkeep_served_bytes_total"])
    assert.match(text, new RegExp(`^# TYPE ${name} counter$`, "m"));
  assert.match(text, /^process_resident_memory_bytes \d+/m);
});

test(
  "npm run worker serves its own /metrics on HUBKEEP_METRICS_PORT",
  { skip: usingPostgres() ? false : "needs PostgreSQL (DATABASE_URL): npm run worker refuses the embedded database" },
  async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "lib/server/worker-main.ts")], {
      cwd: ROOT,
      env: baseEnv({ ...env, HUBKEEP_HOST: "127.0.0.1", HUBKEEP_METRICS_PORT: String(port) }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker metrics not up in time:\n${out}`)), 120_000);
        child.stdout.on("data", () => {
          if (out.includes("metrics: http://")) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once("exit", (code) => reject(new Error(`worker exited with ${code}:\n${out}`)));
      });
      assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 401);
      const text = await scrape(`http://127.0.0.1:${port}/metrics`);
      assert.match(text, /^hubkeep_jobs_queue_depth\{queue="validate-version"\} \d+$/m);
      assert.match(text, /^hubkeep_build_info\{/m);
      assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  },
);
