// The real product as `npm start` runs it: embedded defaults, or the run's PostgreSQL and S3 when
// DATABASE_URL / S3_ENDPOINT are set. Checks /healthz, the home page, the token path end to end,
// that a restart reuses the data, and that bad configuration fails fast with a clear reason.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, runCommand, baseEnv, ROOT, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { createTestBucket, realS3FromEnv, type TestBucket } from "../helpers/s3.ts";

let dataDir: string;
let env: Record<string, string | undefined>;
let dropDb: (() => Promise<void>) | undefined;
let s3Bucket: TestBucket | undefined;
let server: RunningServer | undefined;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-server-"));
  env = { HUBKEEP_DATA_DIR: dataDir };
  if (usingPostgres()) {
    const created = await createEmptyPostgresDatabase();
    env.DATABASE_URL = created.url;
    dropDb = created.drop;
  }
  const s3 = realS3FromEnv();
  if (s3) {
    // The real S3 server of the run (Ceph in CI): a fresh bucket for this server.
    const bucket = (s3Bucket = await createTestBucket(s3));
    Object.assign(env, {
      BLOB_STORE_URL: bucket.url,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_FORCE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
  }
});

after(async () => {
  await server?.stop();
  await dropDb?.();
  await s3Bucket?.destroy().catch(() => {});
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test("npm start serves / and /healthz, and prints the bootstrap admin once", async () => {
  server = await startServer(env);
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok", db: "ok", store: "ok" });
  const home = await fetch(`${server.url}/`);
  assert.equal(home.status, 200);
  assert.match(await home.text(), /Model catalogue/);
  assert.match(server.output(), /bootstrap admin: admin@hubkeep\.local/);
  assert.match(server.output(), /bootstrap admin password \(shown once\): \S{20,}/);
});

test("API routes need a Bearer token and answer the contract's error shape", async () => {
  const anon = await fetch(`${server!.url}/api/v1/me`);
  assert.equal(anon.status, 401);
  const body = (await anon.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, "unauthorized");
  const bad = await fetch(`${server!.url}/api/v1/me`, { headers: { authorization: "Bearer hk_forged" } });
  assert.equal(bad.status, 401);
  // A forged middleware header changes nothing.
  const forged = await fetch(`${server!.url}/api/v1/audit`, {
    headers: { "x-middleware-subrequest": "middleware:middleware:middleware:middleware:middleware" },
  });
  assert.equal(forged.status, 401);
});

test("the server stops cleanly and a second start reuses the data", async () => {
  assert.equal(await server!.stop(), 0);
  // With the server stopped the CLI opens the embedded database itself (no socket to use).
  const made = await runCommand(
    ["bin/hubkeep.mjs", "token", "create", "--email", "ops@example.com", "--scope", "admin"],
    baseEnv(env),
  );
  assert.equal(made.code, 0, made.stderr);
  env.TOKEN = made.stdout.trim();
  assert.match(env.TOKEN, /^hk_[A-Za-z0-9_-]{43}$/, "token create prints only the token");

  server = await startServer(env);
  assert.doesNotMatch(server.output(), /bootstrap admin/, "the admin exists already");
  const me = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${env.TOKEN}` } });
  assert.equal(me.status, 200);
  const { id, ...rest } = (await me.json()) as Record<string, unknown>;
  assert.equal(typeof id, "string");
  assert.deepEqual(rest, { email: "ops@example.com", role: "admin", scope: "admin", via: "token", namespaces: [] });
});

test("admins read the audit log, newest first", async () => {
  const res = await fetch(`${server!.url}/api/v1/audit?action=token.create`, {
    headers: { authorization: `Bearer ${env.TOKEN}` },
  });
  assert.equal(res.status, 200);
  const { items } = (await res.json()) as { items: Array<{ action: string; target: string }> };
  assert.equal(items.length, 1);
  assert.equal(items[0]!.target, "ops@example.com");
  const bad = await fetch(`${server!.url}/api/v1/audit?limit=9999`, {
    headers: { authorization: `Bearer ${env.TOKEN}` },
  });
  assert.equal(bad.status, 422);
});

test("the CLI works beside the running server (embedded: through its 0600 socket), and /readyz answers", async () => {
  const r = await runCommand(
    ["bin/hubkeep.mjs", "token", "create", "--email", "beside@example.com", "--scope", "read"],
    baseEnv(env),
  );
  assert.equal(r.code, 0, r.stderr);
  const tok = r.stdout.trim();
  assert.match(tok, /^hk_[A-Za-z0-9_-]{43}$/, "token create prints only the token");
  const me = await fetch(`${server!.url}/api/v1/me`, { headers: { authorization: `Bearer ${tok}` } });
  assert.equal(me.status, 200);
  assert.equal(((await me.json()) as { email: string }).email, "beside@example.com");
  const u = await runCommand(
    ["bin/hubkeep.mjs", "user", "create", "--email", "pub-beside@example.com", "--role", "publisher"],
    baseEnv(env),
  );
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stdout.trim(), /^\S{12,}$/, "prints the generated password");
  if (!usingPostgres()) {
    const sock = fs.statSync(path.join(dataDir, ".s.PGSQL.5432"));
    assert.ok(sock.isSocket());
    assert.equal(sock.mode & 0o777, 0o600);
    assert.match(server!.output(), /embedded database shared with local processes on /);
  }
  const ready = await fetch(`${server!.url}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: "ready", db: "ok", store: "ok" });
  // The server keeps serving while and after the CLI used its database.
  assert.equal((await fetch(`${server!.url}/healthz`)).status, 200);
});

test("/healthz answers 503 naming the blob store when it is broken, and recovers", async () => {
  const restore = s3Bucket
    ? async () => {
        await s3Bucket!.store.ensureBucket();
      }
    : (() => {
        const blobs = path.join(dataDir, "blobs");
        fs.renameSync(blobs, `${blobs}.moved`);
        fs.writeFileSync(blobs, "not a directory");
        return async () => {
          fs.rmSync(blobs);
          fs.renameSync(`${blobs}.moved`, blobs);
        };
      })();
  if (s3Bucket) await s3Bucket.destroy(); // the bucket disappears under the running server
  try {
    const res = await fetch(`${server!.url}/healthz`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { status: string; db: string; store: string; errors: { store: string } };
    assert.equal(body.status, "unavailable");
    assert.equal(body.db, "ok");
    assert.equal(body.store, "down");
    assert.ok(body.errors.store.length > 0);
  } finally {
    await restore();
  }
  assert.equal((await fetch(`${server!.url}/healthz`)).status, 200);
});

test("bad configuration stops start-up with a one-line reason naming the variable", async () => {
  const r = await runCommand(
    [path.join(ROOT, "scripts/start.mjs")],
    baseEnv({ HUBKEEP_DATA_DIR: dataDir, PORT: "not-a-port" }),
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^hubkeep: invalid configuration: PORT: expected a port number 1-65535, got "not-a-port"$/m);
});

test("an unreachable PostgreSQL fails start-up fast, saying what was tried", async () => {
  const r = await runCommand(
    [path.join(ROOT, "scripts/start.mjs")],
    baseEnv({ HUBKEEP_DATA_DIR: dataDir, DATABASE_URL: "postgresql://hubkeep:secret@127.0.0.1:9/hubkeep" }),
    60_000,
  );
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /cannot start: cannot connect to PostgreSQL at postgresql:\/\/hubkeep:\*\*\*@127\.0\.0\.1:9\/hubkeep/,
  );
  assert.ok(!r.stderr.includes("secret"), "the password is not printed");
  assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
});

test("an unreachable S3 endpoint fails start-up fast, saying what was tried", async () => {
  const r = await runCommand(
    [path.join(ROOT, "scripts/start.mjs")],
    baseEnv({
      HUBKEEP_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-s3down-")),
      BLOB_STORE_URL: "s3://hubkeep-missing",
      S3_ENDPOINT: "http://127.0.0.1:9",
      AWS_ACCESS_KEY_ID: "x",
      AWS_SECRET_ACCESS_KEY: "y",
    }),
    60_000,
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot start: cannot use the blob store s3:\/\/hubkeep-missing/);
  assert.ok(r.ms < 40_000, `took ${r.ms} ms`);
});
