// Validation through the running product: TF.js models mirrored from a (loopback) fake upstream are
// validated by the server's worker in the sandbox. A model that blows the memory cap and one that
// never ends are killed and recorded as failed with their reason, a real model reaches `executed`
// with benchmarks, /healthz stays 200 throughout, and no child process or temp folder is left.
// Re-validation is an admin action that keeps the history.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, runCommand, baseEnv, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { startFakeUpstream, FAKE_MODELS, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { writeFillModel, writeForeverModel } from "../helpers/hostile-models.ts";

let up: FakeUpstream;
let server: RunningServer;
let work: string;
let serverTmp: string;
let dropDb: (() => Promise<void>) | undefined;
let publisher: string;
let admin: string;
const health: number[] = [];
let healthTimer: NodeJS.Timeout | undefined;
let polling = true;

before(async () => {
  up = await startFakeUpstream();
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-sandbox-e2e-"));
  serverTmp = path.join(work, "tmp");
  fs.mkdirSync(serverTmp);
  FAKE_MODELS["tensorflow/tfjs-model/greedy/1/default@1"] = {
    kind: "tfjs",
    dir: writeFillModel(path.join(work, "greedy"), 8192),
    modelJson: "model.json",
  };
  FAKE_MODELS["tensorflow/tfjs-model/forever/1/default@1"] = {
    kind: "tfjs",
    dir: writeForeverModel(path.join(work, "forever")),
    modelJson: "model.json",
  };
  const env: Record<string, string | undefined> = {
    HUBKEEP_DATA_DIR: path.join(work, "data"),
    HUBKEEP_UPSTREAM_TFHUB: up.base,
    HUBKEEP_UPSTREAM_HOSTS: `127.0.0.1:${up.port}`,
    HUBKEEP_ALLOW_PRIVATE_UPSTREAM: "true",
    HUBKEEP_ALLOWLIST: "tensorflow/*",
    HUBKEEP_VALIDATE_MEMORY_MB: "160",
    HUBKEEP_VALIDATE_TIMEOUT_SECONDS: "15", // room for blazeface on a loaded CI machine; the endless model waits it out
    TMPDIR: serverTmp,
  };
  if (usingPostgres()) {
    const db = await createEmptyPostgresDatabase();
    env.DATABASE_URL = db.url;
    dropDb = db.drop;
  }
  const p = await runCommand(
    ["bin/hubkeep.mjs", "token", "create", "--email", "pub@example.com", "--scope", "publish"],
    baseEnv(env),
  );
  assert.equal(p.code, 0, p.stderr);
  publisher = p.stdout.trim();
  const a = await runCommand(
    ["bin/hubkeep.mjs", "token", "create", "--email", "admin@example.com", "--scope", "admin"],
    baseEnv(env),
  );
  assert.equal(a.code, 0, a.stderr);
  admin = a.stdout.trim();
  server = await startServer(env);
  const poll = async () => {
    try {
      health.push((await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) })).status);
    } catch {
      health.push(0);
    }
    // A poll in flight when after() runs must not schedule another one.
    if (polling) healthTimer = setTimeout(() => void poll(), 200);
  };
  void poll();
});

after(async () => {
  polling = false;
  clearTimeout(healthTimer);
  delete FAKE_MODELS["tensorflow/tfjs-model/greedy/1/default@1"];
  delete FAKE_MODELS["tensorflow/tfjs-model/forever/1/default@1"];
  await server?.stop();
  await up?.close();
  await dropDb?.();
  fs.rmSync(work, { recursive: true, force: true });
});

const auth = (t: string) => ({ authorization: `Bearer ${t}`, "content-type": "application/json" });

type VersionView = {
  status: string;
  validation: {
    status: string;
    level: string | null;
    runtime: string;
    backend: string | null;
    error?: string;
    isolation: { network?: string };
  } | null;
  benchmark: {
    runtime: string;
    backend: string;
    batches: Array<{ batch: number; p50Ms: number; runs: number }>;
  } | null;
  validationHistory: unknown[];
};

async function mirrorAndValidate(handle: string): Promise<VersionView> {
  const res = await fetch(`${server.url}/api/v1/mirrors`, {
    method: "POST",
    headers: auth(publisher),
    body: JSON.stringify({ url: `https://tfhub.dev/${handle}/1` }),
  });
  assert.equal(res.status, 202, await res.clone().text());
  return waitValidated(handle);
}

async function waitValidated(handle: string, minRuns = 1): Promise<VersionView> {
  for (let i = 0; i < 1200; i++) {
    const r = await fetch(`${server.url}/api/v1/models/${handle}/versions/1`, { headers: auth(admin) });
    if (r.status === 200) {
      const v = (await r.json()) as VersionView;
      if (["validated", "failed", "quarantined"].includes(v.status) && v.validationHistory.length + 1 >= minRuns)
        return v;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${handle} was not validated in time`);
}

function leftovers(): string[] {
  const procs = fs
    .readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`${serverTmp}/hubkeep-sandbox-`);
      } catch {
        return false;
      }
    });
  return [...procs.map((p) => `process ${p}`), ...fs.readdirSync(serverTmp).filter((d) => d.startsWith("hubkeep-"))];
}

test("the worker validates mirrored TF.js models in the sandbox; hostile ones are killed, the server stays healthy", async () => {
  const blaze = await mirrorAndValidate("tensorflow/tfjs-model/blazeface/1/default");
  assert.equal(blaze.status, "validated", blaze.validation?.error);
  assert.equal(blaze.validation!.level, "executed");
  assert.equal(blaze.validation!.runtime, "tfjs");
  assert.match(blaze.validation!.isolation.network!, /^isolated/);
  assert.equal(blaze.benchmark!.batches[0]!.batch, 1);
  assert.ok(blaze.benchmark!.batches[0]!.runs >= 20);

  const greedy = await mirrorAndValidate("tensorflow/tfjs-model/greedy/1/default");
  assert.equal(greedy.status, "failed");
  assert.match(greedy.validation!.error!, /needed more than the 160 MiB memory cap and was killed/);
  assert.equal(greedy.benchmark, null);

  const forever = await mirrorAndValidate("tensorflow/tfjs-model/forever/1/default");
  assert.equal(forever.status, "failed");
  assert.equal(forever.validation!.error, "the model did not finish within 15 s in the sandbox and was killed");

  assert.ok(health.length > 5, `healthz was polled (${health.length} times)`);
  assert.deepEqual([...new Set(health)], [200], "/healthz answered 200 throughout");
  assert.deepEqual(leftovers(), [], "no sandbox process or temp folder is left");
});

test("re-validation is an admin action: a new run, the history kept", async () => {
  const url = `${server.url}/api/v1/models/tensorflow/tfjs-model/forever/1/default/versions/1/validate`;
  assert.equal((await fetch(url, { method: "POST" })).status, 401);
  const denied = await fetch(url, { method: "POST", headers: auth(publisher) });
  assert.equal(denied.status, 403);
  const res = await fetch(url, { method: "POST", headers: auth(admin) });
  assert.equal(res.status, 202, await res.clone().text());
  assert.deepEqual(await res.json(), {
    handle: "tensorflow/tfjs-model/forever/1/default",
    version: 1,
    status: "pending",
    previousStatus: "failed",
  });
  const v = await waitValidated("tensorflow/tfjs-model/forever/1/default", 2);
  assert.equal(v.validationHistory.length, 1, "the earlier run is kept");
  assert.equal(v.status, "failed");
  assert.equal(
    (
      await fetch(`${server.url}/api/v1/models/tensorflow/tfjs-model/nope/versions/1/validate`, {
        method: "POST",
        headers: auth(admin),
      })
    ).status,
    404,
  );
  // Unapproved versions are not visible to non-admins.
  assert.equal(
    (await fetch(`${server.url}/api/v1/models/tensorflow/tfjs-model/blazeface/1/default/versions/1`)).status,
    404,
  );
  assert.equal(
    (
      await fetch(`${server.url}/api/v1/models/tensorflow/tfjs-model/blazeface/1/default/versions/x`, {
        headers: auth(admin),
      })
    ).status,
    422,
  );
  assert.deepEqual(leftovers(), []);
});
