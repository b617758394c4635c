// Mirroring through the running product: POST /api/v1/mirrors and GET /api/v1/mirrors/{id} on the
// real server, the in-process worker (and, with PostgreSQL, a second `npm run worker` process), the
// `hubkeep mirror` CLI, and 50 concurrent requests -> exactly one upstream fetch.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { startServer, runCommand, baseEnv, ROOT, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";

let up: FakeUpstream;
let server: RunningServer;
let worker: ChildProcess | undefined;
let env: Record<string, string | undefined>;
let dataDir: string;
let dropDb: (() => Promise<void>) | undefined;
let token: string;
let viewerToken: string;
let adminToken: string;

before(async () => {
  up = await startFakeUpstream();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-mirror-e2e-"));
  env = {
    HUBKEEP_DATA_DIR: dataDir,
    HUBKEEP_UPSTREAM_TFHUB: up.base,
    HUBKEEP_UPSTREAM_HOSTS: `127.0.0.1:${up.port}`,
    HUBKEEP_ALLOW_PRIVATE_UPSTREAM: "true",
    HUBKEEP_ALLOWLIST: "google/*,tensorflow/*",
  };
  if (usingPostgres()) {
    const db = await createEmptyPostgresDatabase();
    env.DATABASE_URL = db.url;
    dropDb = db.drop;
  }
  // Tokens first: with the embedded database the CLI needs it before the server holds it.
  const t1 = await runCommand(
    ["bin/hubkeep.mjs", "token", "create", "--email", "pub@example.com", "--scope", "publish"],
    baseEnv(env),
  );
  assert.equal(t1.code, 0, t1.stderr);
  token = t1.stdout.trim();
  const t2 = await runCommand(
    ["bin/hubkeep.mjs", "token", "create", "--email", "viewer@example.com", "--scope", "read"],
    baseEnv(env),
  );
  assert.equal(t2.code, 0, t2.stderr);
  viewerToken = t2.stdout.trim();
  const t3 = await runCommand(
    ["bin/hubkeep.mjs", "token", "create", "--email", "admin@example.com", "--scope", "admin"],
    baseEnv(env),
  );
  assert.equal(t3.code, 0, t3.stderr);
  adminToken = t3.stdout.trim();
  server = await startServer(env);
  if (env.DATABASE_URL) {
    // A second worker process against the same PostgreSQL.
    worker = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "lib/server/worker-main.ts")], {
      cwd: ROOT,
      env: baseEnv(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes("worker running")) resolve();
      };
      worker!.stdout!.on("data", onData);
      worker!.stderr!.on("data", onData);
      worker!.once("exit", (c) => reject(new Error(`worker exited ${c}: ${out}`)));
    });
  }
});

after(async () => {
  if (worker && worker.exitCode === null) {
    worker.kill("SIGTERM");
    await new Promise((r) => worker!.once("exit", r));
  }
  await server?.stop();
  await up?.close();
  await dropDb?.();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const auth = (t: string) => ({ authorization: `Bearer ${t}`, "content-type": "application/json" });

async function waitStored(id: string, t = token) {
  for (let i = 0; i < 600; i++) {
    const res = await fetch(`${server.url}/api/v1/mirrors/${id}`, { headers: auth(t) });
    const m = (await res.json()) as { status: string; error?: string; bytesDone: number; bytesTotal: number | null };
    if (m.status === "stored" || m.status === "failed") return m;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("mirror did not finish");
}

test("POST /api/v1/mirrors queues a fetch the worker completes; GET shows the progress fields", async () => {
  const res = await fetch(`${server.url}/api/v1/mirrors`, {
    method: "POST",
    headers: auth(token),
    body: JSON.stringify({ url: "https://tfhub.dev/google/half_plus_two/1" }),
  });
  assert.equal(res.status, 202);
  const body = (await res.json()) as { id: string; handle: string; version: number; status: string };
  assert.equal(body.handle, "google/half_plus_two");
  assert.equal(body.version, 1);
  assert.equal(body.status, "queued");
  const done = await waitStored(body.id);
  assert.equal(done.status, "stored", done.error);
  assert.equal(done.bytesDone, done.bytesTotal);
  const again = await fetch(`${server.url}/api/v1/mirrors`, {
    method: "POST",
    headers: auth(token),
    body: JSON.stringify({ url: "https://tfhub.dev/google/half_plus_two/1" }),
  });
  assert.equal(again.status, 200, "the same version already mirrored answers 200");
});

test("the mirror API refuses what it must, with the contract's statuses", async () => {
  const post = (headers: Record<string, string>, body: string) =>
    fetch(`${server.url}/api/v1/mirrors`, { method: "POST", headers, body });
  assert.equal(
    (await post({ "content-type": "application/json" }, JSON.stringify({ url: "https://tfhub.dev/google/x/1" })))
      .status,
    401,
  );
  const viewer = await post(auth(viewerToken), JSON.stringify({ url: "https://tfhub.dev/google/x/1" }));
  assert.equal(viewer.status, 403);
  assert.match(((await viewer.json()) as { error: { message: string } }).error.message, /publish/);
  assert.equal((await post(auth(token), "{not json")).status, 400);
  assert.equal((await post(auth(token), JSON.stringify({}))).status, 422);
  assert.equal((await post(auth(token), JSON.stringify({ url: "https://example.com/a/b/1" }))).status, 422);
  const denied = await post(auth(token), JSON.stringify({ url: "https://tfhub.dev/evilcorp/model/1" }));
  assert.equal(denied.status, 403);
  assert.deepEqual(await denied.json(), {
    error: {
      code: "forbidden",
      message: `not allowlisted: no rule allows "evilcorp/model"`,
      requestId: denied.headers.get("x-request-id"),
    },
  });
  assert.equal((await fetch(`${server.url}/api/v1/mirrors/nope`, { headers: auth(token) })).status, 404);
});

test("50 concurrent requests from clients cause exactly one upstream request in all", async () => {
  const url = "https://tfhub.dev/google/times_three_float/1";
  const before = up.requests;
  const answers = await Promise.all(
    Array.from({ length: 50 }, () =>
      fetch(`${server.url}/api/v1/mirrors`, {
        method: "POST",
        headers: auth(token),
        body: JSON.stringify({ url }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { id: string } })),
    ),
  );
  for (const a of answers) assert.ok(a.status === 202 || a.status === 200, String(a.status));
  const ids = new Set(answers.map((a) => a.body.id));
  assert.equal(ids.size, 1, "every request joined one mirror request");
  for (const id of ids) assert.equal((await waitStored(id)).status, "stored");
  assert.equal(up.fetches.get("google/times_three_float@1"), 1);
  // No probes, no joiner contact: the only request is the download, whose redirect chain
  // (tfhub.dev -> Kaggle -> signed storage URL) is three HTTP hops.
  assert.equal(up.hits.get("/google/times_three_float/1"), 1, "one request started at the upstream");
  assert.equal(up.requests - before, 3, "and nothing else reached the upstream");
});

test("20 concurrent requests for an unversioned URL: one lookup of the latest version, one download", async () => {
  const url = "https://tfhub.dev/google/latest_demo";
  const before = up.requests;
  up.latestDelayMs = 200; // the lookup is still in flight when the others arrive
  const answers = await Promise.all(
    Array.from({ length: 20 }, () =>
      fetch(`${server.url}/api/v1/mirrors`, {
        method: "POST",
        headers: auth(token),
        body: JSON.stringify({ url }),
      }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { id: string; version: number; handle: string },
      })),
    ),
  ).finally(() => (up.latestDelayMs = undefined));
  for (const a of answers) assert.ok(a.status === 202 || a.status === 200, JSON.stringify(a));
  assert.deepEqual(new Set(answers.map((a) => a.body.version)), new Set([3]), "every answer names the pinned version");
  const ids = new Set(answers.map((a) => a.body.id));
  assert.equal(ids.size, 1);
  assert.equal((await waitStored([...ids][0]!)).status, "stored");
  assert.equal(up.hits.get("/google/latest_demo"), 1, "one lookup");
  assert.equal(up.hits.get("/google/latest_demo/3"), 1, "one download");
  assert.equal(up.requests - before, 1 + 3);

  // The CLI says which version it pinned.
  const r = await runCommand(
    ["bin/hubkeep.mjs", "mirror", url],
    baseEnv({ HUBKEEP_URL: server.url, HUBKEEP_TOKEN: token }),
    60_000,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /: google\/latest_demo version 3 \(the upstream's latest, pinned\)/);
  assert.equal((JSON.parse(r.stdout.trim()) as { version: number }).version, 3);
});

test("unversioned URLs: 502 naming what the upstream answered; 403 before any upstream contact", async () => {
  const post = (url: string) =>
    fetch(`${server.url}/api/v1/mirrors`, { method: "POST", headers: auth(token), body: JSON.stringify({ url }) });
  const before = up.requests;
  const denied = await post("https://tfhub.dev/evilcorp/model");
  assert.equal(denied.status, 403);
  assert.equal(up.requests, before, "refused before the upstream was asked");
  const unknown = await post("https://tfhub.dev/google/nothing_here");
  assert.equal(unknown.status, 502);
  const body = (await unknown.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, "upstream_error");
  assert.match(
    body.error.message,
    /redirected google\/nothing_here to .*\/models\?tfhub-redirect=true \(Kaggle's model search\), which names no version/,
  );
  const cli = await runCommand(
    ["bin/hubkeep.mjs", "mirror", "https://tfhub.dev/google/html-page"],
    baseEnv({ HUBKEEP_URL: server.url, HUBKEEP_TOKEN: token }),
    60_000,
  );
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, /502: .*answered 200 \(text\/html\)/);
});

test("hubkeep mirror follows a mirror to the end and prints it", async () => {
  const r = await runCommand(
    ["bin/hubkeep.mjs", "mirror", "https://tfhub.dev/tensorflow/lite-model/add4/1/default/1"],
    baseEnv({ HUBKEEP_URL: server.url, HUBKEEP_TOKEN: token }),
    60_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout.trim()) as { status: string; handle: string };
  assert.equal(m.status, "stored");
  assert.equal(m.handle, "tensorflow/lite-model/add4/1/default");
  assert.match(r.stderr, /stored: tensorflow\/lite-model\/add4\/1\/default version 1/);
  const bad = await runCommand(
    ["bin/hubkeep.mjs", "mirror", "https://tfhub.dev/google/html-page/1"],
    baseEnv({ HUBKEEP_URL: server.url, HUBKEEP_TOKEN: token }),
    60_000,
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /failed: upstream returned HTML, not a module/);
});

test("admins manage the allowlist through the API; others cannot", async () => {
  const list = async () =>
    (
      (await (await fetch(`${server.url}/api/v1/allowlist`, { headers: auth(adminToken) })).json()) as {
        items: Array<{ id: string; rule: string }>;
      }
    ).items;
  assert.deepEqual(
    (await list()).map((r) => r.rule).sort(),
    ["google/*", "tensorflow/*"],
    "seeded from HUBKEEP_ALLOWLIST",
  );
  assert.equal((await fetch(`${server.url}/api/v1/allowlist`, { headers: auth(token) })).status, 403);
  const add = await fetch(`${server.url}/api/v1/allowlist`, {
    method: "POST",
    headers: auth(adminToken),
    body: JSON.stringify({ rule: "!google/experimental/*", note: "not vetted" }),
  });
  assert.equal(add.status, 201);
  const added = (await add.json()) as { id: string; rule: string; effect: string };
  assert.equal(added.rule, "!google/experimental/*");
  assert.equal(added.effect, "deny");
  const dup = await fetch(`${server.url}/api/v1/allowlist`, {
    method: "POST",
    headers: auth(adminToken),
    body: JSON.stringify({ rule: "!google/experimental/*" }),
  });
  assert.equal(dup.status, 409);
  assert.equal(
    (
      await fetch(`${server.url}/api/v1/allowlist`, {
        method: "POST",
        headers: auth(adminToken),
        body: JSON.stringify({ rule: "google x" }),
      })
    ).status,
    422,
  );
  const denied = await fetch(`${server.url}/api/v1/mirrors`, {
    method: "POST",
    headers: auth(token),
    body: JSON.stringify({ url: "https://tfhub.dev/google/experimental/a/1" }),
  });
  assert.equal(denied.status, 403);
  assert.match(
    ((await denied.json()) as { error: { message: string } }).error.message,
    /denied by rule "!google\/experimental\/\*"/,
  );
  assert.equal(
    (await fetch(`${server.url}/api/v1/allowlist/${added.id}`, { method: "DELETE", headers: auth(adminToken) })).status,
    204,
  );
  assert.equal(
    (await fetch(`${server.url}/api/v1/allowlist/${added.id}`, { method: "DELETE", headers: auth(adminToken) })).status,
    404,
  );
  assert.equal((await list()).length, 2);
});

test("an admin resyncs a stored mirror; publishers may not", async () => {
  const post = await fetch(`${server.url}/api/v1/mirrors`, {
    method: "POST",
    headers: auth(token),
    body: JSON.stringify({ url: "https://tfhub.dev/google/half_plus_two/1" }),
  });
  const { id } = (await post.json()) as { id: string };
  assert.equal(
    (await fetch(`${server.url}/api/v1/mirrors/${id}/resync`, { method: "POST", headers: auth(token) })).status,
    403,
  );
  const res = await fetch(`${server.url}/api/v1/mirrors/${id}/resync`, { method: "POST", headers: auth(adminToken) });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { drift: boolean; storedDigest: string; upstreamDigest: string };
  assert.equal(body.drift, false);
  assert.equal(body.upstreamDigest, body.storedDigest);
});

test("the worker validates a mirrored version after it is stored", async () => {
  let items: Array<{ target: string; details: { status: string; level: string } }> = [];
  for (let i = 0; i < 300 && !items.some((e) => e.target === "google/half_plus_two/1"); i++) {
    const res = await fetch(`${server.url}/api/v1/audit?action=version.validate`, { headers: auth(adminToken) });
    items = ((await res.json()) as { items: typeof items }).items;
    if (!items.some((e) => e.target === "google/half_plus_two/1")) await new Promise((r) => setTimeout(r, 100));
  }
  const ev = items.find((e) => e.target === "google/half_plus_two/1");
  assert.ok(ev, "validation ran");
  assert.equal(ev.details.status, "validated");
  assert.equal(ev.details.level, "executed");
});

test("GET /api/v1/models/{handle}: the model with the versions the caller may see; 404 when none is", async () => {
  const get = (t?: string) => fetch(`${server.url}/api/v1/models/google/half_plus_two`, { headers: t ? auth(t) : {} });
  const admin = await get(adminToken);
  assert.equal(admin.status, 200);
  const doc = (await admin.json()) as {
    handle: string;
    format: string;
    aliases: object;
    source?: { url: string };
    versions: Array<{ version: number; status: string; digest: string; size: number; createdAt: string }>;
  };
  assert.equal(doc.handle, "google/half_plus_two");
  assert.equal(doc.format, "tf1_hub");
  assert.deepEqual(doc.aliases, {});
  assert.deepEqual(doc.source, { url: "https://tfhub.dev/google/half_plus_two" });
  assert.deepEqual(
    doc.versions.map((v) => [v.version, v.status]),
    [[1, "validated"]],
  );
  assert.match(doc.versions[0]!.digest, /^sha256:[0-9a-f]{64}$/);
  // Not approved yet: viewers, anonymous callers and publishers outside the namespace see nothing.
  for (const t of [viewerToken, token, undefined]) {
    const r = await get(t);
    assert.equal(r.status, 404, `as ${t ? "a token" : "anonymous"}`);
  }
  const approve = await fetch(`${server.url}/api/v1/models/google/half_plus_two/versions/1/approve`, {
    method: "POST",
    headers: auth(adminToken),
    body: "{}",
  });
  assert.equal(approve.status, 200, await approve.text());
  for (const t of [viewerToken, undefined]) {
    const r = await get(t);
    assert.equal(r.status, 200);
    assert.deepEqual(
      ((await r.json()) as typeof doc).versions.map((v) => [v.version, v.status]),
      [[1, "approved"]],
    );
  }
  assert.equal(
    (await fetch(`${server.url}/api/v1/models/google/no_such_model`, { headers: auth(adminToken) })).status,
    404,
  );
  assert.equal(
    (await fetch(`${server.url}/api/v1/models/google/half_plus_two/versions`, { headers: auth(adminToken) })).status,
    404,
    "only the table's sub-routes are served",
  );
});
