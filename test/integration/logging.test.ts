// Structured logs through the real server (`npm start`'s entry) on S3 with presigned redirects: a
// whole journey (password sign-in, a token, an upload, its validation job, approval, a download that
// redirects to a presigned S3 URL, error paths) leaves one JSON object per stdout line, one line per
// request with its route template, status and the X-Request-Id every response carries, one per job
// event; a sane X-Request-Id is echoed into the JSON error body, an insane one replaced; and no
// password, token, session cookie or presigned query string appears anywhere in the output.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { baseEnv, freePort, ROOT } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { s3TestEnv } from "../helpers/s3.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { postCredentials } from "../helpers/session.ts";

const PASSWORD = "logging-admin-password-93";
const HANDLE = "internal/logs/half_plus_two";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

type Line = Record<string, unknown> & { level: string; msg: string };
type Sent = { id: string; method: string; route: string; status: number; principal: boolean };

let child: ChildProcess;
let stdout = "";
let stderr = "";
let exited: Promise<number | null>;
let base: string;
let work: string;
const cleanups: Array<() => Promise<unknown>> = [];
/** Every response of the journey: its X-Request-Id and what its log line must say. */
const sent: Sent[] = [];
/** Values that must never be written. */
const secrets = new Set<string>([PASSWORD]);

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-logging-"));
  const s3 = await s3TestEnv();
  cleanups.push(() => s3.cleanup());
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    HUBKEEP_HOST: "127.0.0.1",
    PORT: String(port),
    HUBKEEP_PUBLIC_URL: base,
    HUBKEEP_DATA_DIR: path.join(work, "data"),
    HUBKEEP_ADMIN_EMAIL: "admin@example.com",
    HUBKEEP_ADMIN_PASSWORD: PASSWORD,
    HUBKEEP_ANONYMOUS_READ: "false",
    HUBKEEP_S3_REDIRECT: "true",
    ...s3.env,
  };
  if (usingPostgres()) {
    const db = await createEmptyPostgresDatabase();
    env.DATABASE_URL = db.url;
    cleanups.push(() => db.drop());
  }
  // stdout and stderr apart (test/helpers/server.ts merges them): stdout is the log.
  child = spawn(process.execPath, [path.join(ROOT, "scripts/start.mjs")], {
    cwd: ROOT,
    env: baseEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready in time:\n${stdout}\n${stderr}`)), 180_000);
    const check = () => {
      if (/"msg":"hubkeep: ready: /.test(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${stdout}\n${stderr}`));
    });
  });
});

after(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGKILL");
    await exited;
  }
  for (const c of cleanups.reverse()) await c().catch(() => {});
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** fetch, recording the response's X-Request-Id (which every response must carry) and its expected line. */
async function call(
  url: string,
  init: RequestInit & { route: string; principal?: boolean },
): Promise<{ res: Response; id: string; text: string }> {
  const res = await fetch(url.startsWith("http") ? url : `${base}${url}`, { redirect: "manual", ...init });
  const text = await res.text();
  const id = res.headers.get("x-request-id");
  assert.ok(id, `${init.method ?? "GET"} ${url} (${res.status}) has no X-Request-Id`);
  sent.push({ id, method: init.method ?? "GET", route: init.route, status: res.status, principal: !!init.principal });
  return { res, id, text };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test("a whole journey logs JSON lines with request ids and route templates, and never a secret", async () => {
  // Sign in with the password (next-auth's real endpoints), then create a token in the session.
  const signIn = await postCredentials(base, "admin@example.com", PASSWORD);
  assert.ok(signIn.cookie, `sign-in failed: ${signIn.status} ${signIn.body}`);
  const cookie = signIn.cookie;
  secrets.add(cookie.slice(cookie.indexOf("=") + 1));
  for (const c of signIn.setCookie) secrets.add(c.split(";")[0]!.split("=").slice(1).join("="));
  const made = await call("/api/v1/tokens", {
    method: "POST",
    headers: { cookie, origin: base, "content-type": "application/json" },
    body: JSON.stringify({ scope: "admin" }),
    route: "/api/v1/tokens",
    principal: true,
  });
  assert.equal(made.res.status, 201, made.text);
  const token = (JSON.parse(made.text) as { token: string }).token;
  assert.match(token, /^hk_/);
  secrets.add(token);
  // (Uncompressed, so that the logged bytes are the body's length.)
  const me = await call("/api/v1/me", {
    headers: { ...bearer(token), "accept-encoding": "identity" },
    route: "/api/v1/me",
    principal: true,
  });
  const adminId = (JSON.parse(me.text) as { id: string }).id;

  // Upload a real fixture with the token, under a request id of our own.
  const file = fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz");
  const bytes = fs.readFileSync(file);
  const upload = await call(`/api/v1/models/${HANDLE}/versions/1`, {
    method: "PUT",
    headers: { ...bearer(token), "x-request-id": "upload-1.journey:42" },
    body: bytes,
    route: "/api/v1/models/{handle}/versions/{n}",
    principal: true,
  });
  assert.ok([200, 201].includes(upload.res.status), upload.text);
  assert.equal(upload.id, "upload-1.journey:42", "a sane X-Request-Id is echoed");

  // Its validation job runs in the server; wait for it, then approve.
  let status = "";
  for (let i = 0; i < 600 && !["validated", "failed", "quarantined"].includes(status); i++) {
    if (i) await new Promise((r) => setTimeout(r, 200));
    const v = await fetch(`${base}/api/v1/models/${HANDLE}/versions/1`, { headers: bearer(token) });
    status = ((await v.json()) as { status: string }).status;
  }
  assert.equal(status, "validated");
  const approve = await call(`/api/v1/models/${HANDLE}/versions/1/approve`, {
    method: "POST",
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify({ note: "logging test" }),
    route: "/api/v1/models/{handle}/versions/{n}/approve",
    principal: true,
  });
  assert.equal(approve.res.status, 200, approve.text);

  // The hub download redirects to a presigned S3 URL, whose query must never be logged.
  const hub = await call(`/${HANDLE}/1?tf-hub-format=compressed`, {
    headers: bearer(token),
    route: "/{handle}/{n}",
    principal: true,
  });
  assert.equal(hub.res.status, 302, hub.text);
  const location = hub.res.headers.get("location")!;
  assert.match(location, /X-Amz-Signature=/);
  const presigned = new URL(location);
  secrets.add(presigned.search.slice(1));
  for (const [k, v] of presigned.searchParams) if (/^X-Amz-(Signature|Credential)$/i.test(k)) secrets.add(v);
  const fromS3 = await fetch(location);
  assert.equal(fromS3.status, 200);
  assert.ok(Buffer.from(await fromS3.arrayBuffer()).equals(bytes), "S3 serves the uploaded bytes");

  // Error paths: a 404 JSON body carries the supplied id; bad credentials; an unknown hub model.
  const missing = await call(`/api/v1/models/internal/logs/nope/versions/1`, {
    headers: { ...bearer(token), "x-request-id": "missing-model.404" },
    route: "/api/v1/models/{handle}/versions/{n}",
    principal: true,
  });
  assert.equal(missing.res.status, 404);
  assert.equal(missing.id, "missing-model.404");
  assert.equal((JSON.parse(missing.text) as { error: { requestId: string } }).error.requestId, "missing-model.404");
  const badToken = `hk_${"Z".repeat(43)}`;
  secrets.add(badToken);
  const denied = await call("/api/v1/me", { headers: bearer(badToken), route: "/api/v1/me" });
  assert.equal(denied.res.status, 401);
  assert.equal((JSON.parse(denied.text) as { error: { requestId: string } }).error.requestId, denied.id);
  assert.match(denied.id, UUID);
  const noModel = await call(`/internal/logs/absent/1?tf-hub-format=compressed`, {
    headers: bearer(token),
    route: "/{handle}/{n}",
    principal: true,
  });
  assert.equal(noModel.res.status, 404);
  assert.match(noModel.res.headers.get("content-type") ?? "", /^text\/plain/, "the hub answers errors as text");

  // Insane ids are replaced by a new one, also on an error body.
  for (const insane of ["x".repeat(300), "has spaces in it", 'quote"and;semicolon', "tab\there"]) {
    const r = await call(`/api/v1/models/internal/logs/nope/versions/1`, {
      headers: { ...bearer(token), "x-request-id": insane },
      route: "/api/v1/models/{handle}/versions/{n}",
      principal: true,
    });
    assert.equal(r.res.status, 404);
    assert.match(r.id, UUID, `${JSON.stringify(insane)} was not replaced`);
    assert.equal((JSON.parse(r.text) as { error: { requestId: string } }).error.requestId, r.id);
  }

  // The Node server's own answers and a page carry the header too.
  await call("/readyz", { route: "/readyz" });
  await call("/metrics", { route: "/metrics" });
  await call("/healthz", { route: "/healthz" });
  await call("/", { headers: { cookie }, route: "/", principal: true });

  // Stop the server: every line is written by the time it exits.
  child.kill("SIGTERM");
  assert.equal(await exited, 0, stderr);

  // Every stdout line is a JSON object. (A build `npm start` ran first prints Next's output before the
  // server's first line; nothing else may.)
  const all = stdout.split("\n").filter((l) => l !== "");
  const first = all.findIndex((l) => l.startsWith("{"));
  assert.ok(first >= 0, stdout);
  if (first > 0) assert.match(all[0]!, /^hubkeep: building the web app/, `not a log line: ${all[0]}`);
  const lines: Line[] = all.slice(first).map((l) => {
    const parsed = (() => {
      try {
        return JSON.parse(l) as unknown;
      } catch {
        return undefined;
      }
    })();
    assert.ok(parsed && typeof parsed === "object" && !Array.isArray(parsed), `not a JSON object line: ${l}`);
    return parsed as Line;
  });
  for (const l of lines) {
    assert.equal(typeof l.level, "string");
    assert.equal(typeof l.time, "string");
    assert.equal(typeof l.msg, "string");
  }

  // One line per request: its route template (never a raw handle), status, time, bytes and ids.
  const requests = lines.filter((l) => l.type === "request");
  for (const l of requests) {
    assert.doesNotMatch(
      String(l.route),
      /internal\/logs|half_plus_two|absent|nope/,
      `raw path in route: ${String(l.route)}`,
    );
    assert.doesNotMatch(String(l.path), /\?/, "paths are logged without their query");
    assert.equal(typeof l.durationMs, "number");
    assert.equal(typeof l.bytes, "number");
    assert.equal(typeof l.requestId, "string");
  }
  for (const s of sent) {
    const mine = requests.filter((l) => l.requestId === s.id);
    assert.equal(mine.length, 1, `one line for ${s.method} ${s.route} (${s.id}): ${JSON.stringify(mine)}`);
    const l = mine[0]!;
    assert.deepEqual([l.method, l.route, l.status], [s.method, s.route, s.status], JSON.stringify(l));
    assert.equal(l.principalId, s.principal ? adminId : null, `${s.method} ${s.route}: principalId`);
  }
  const upLine = requests.find((l) => l.requestId === "upload-1.journey:42")!;
  assert.equal(upLine.path, `/api/v1/models/${HANDLE}/versions/1`);
  const hubLine = requests.find((l) => l.requestId === hub.id)!;
  assert.equal(hubLine.path, `/${HANDLE}/1`);
  assert.equal(requests.find((l) => l.requestId === me.id)!.bytes, Buffer.byteLength(me.text));
  // next-auth's own requests are logged as well (their ids were generated).
  assert.ok(
    requests.some((l) => l.route === "/api/auth/{nextauth}" && l.method === "POST"),
    "the sign-in post",
  );

  // One line per job event: the upload's validation started and completed.
  const jobs = lines.filter((l) => l.type === "job" && l.queue === "validate-version");
  assert.ok(
    jobs.some((l) => l.event === "started" && typeof l.jobId === "string"),
    JSON.stringify(jobs),
  );
  const done = jobs.find((l) => l.event === "completed");
  assert.ok(done && typeof done.durationMs === "number" && done.outcome === "completed", JSON.stringify(jobs));

  // No secret anywhere: stdout, stderr, or any encoding of the query string.
  const output = stdout + stderr;
  for (const secret of secrets) {
    assert.ok(secret.length >= 8, "a secret worth grepping for");
    assert.ok(!output.includes(secret), `a secret was written: ${secret.slice(0, 12)}…`);
    assert.ok(
      !output.includes(encodeURIComponent(secret)),
      `a secret was written (URL-encoded): ${secret.slice(0, 12)}…`,
    );
  }
  assert.doesNotMatch(output, /X-Amz-Signature|X-Amz-Credential/i);
  assert.doesNotMatch(output, /next-auth\.session-token=/);
  assert.doesNotMatch(output, /bootstrap admin password/, "a configured admin password is never printed");
});
