// Deleting and retention through the real server: the admin delete with a reason (410 Gone for its
// URLs, its document kept, its number never reused), retention rules and their 422s, a dry run that
// lists and deletes nothing, a run that deletes exactly what the dry run listed (never the latest
// approved version), and `hubkeep gc` beside the running server reclaiming the bytes afterwards.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { startServer, runCommand, baseEnv, freePort, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { callApi, sessionCaller } from "../helpers/api-client.ts";
import { fixturePath } from "../helpers/fixtures.ts";

let server: RunningServer;
let base: string;
let work: string;
let dataDir: string;
let env: Record<string, string | undefined>;
let dropDb: (() => Promise<void>) | undefined;
let admin: string;
let viewer: string;

const halfPlusTwo = fs.readFileSync(fixturePath("serving-half_plus_two_tflite", "model.tflite"));
const add4 = fs.readFileSync(fixturePath("tfjs-tflite-add4", "add4.tflite"));
// Other bytes with a TFLite header: recognised as TFLite, whatever their validation says.
const variant = (n: number) => Buffer.concat([halfPlusTwo, Buffer.alloc(n, 7)]);
const blobFile = (b: Buffer) => {
  const hex = createHash("sha256").update(b).digest("hex");
  return path.join(dataDir, "blobs", "v1", "blobs", "sha256", hex.slice(0, 2), hex);
};

const api = (method: string, url: string, token: string, body?: unknown) => callApi(base, method, url, token, body);

async function upload(handle: string, n: number, body: Buffer) {
  const res = await fetch(`${base}/api/v1/models/${handle}/versions/${n}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${admin}` },
    body: new Uint8Array(body),
  });
  return { status: res.status, text: await res.text() };
}

async function settled(handle: string, n: number): Promise<string> {
  for (const until = Date.now() + 120_000; ;) {
    const v = await api("GET", `/api/v1/models/${handle}/versions/${n}`, admin);
    const status = String(v.json?.status);
    if (!["pending", "validating"].includes(status)) return status;
    if (Date.now() > until) throw new Error(`${handle}/${n} stayed ${status}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function statusOf(handle: string, n: number) {
  return (await api("GET", `/api/v1/models/${handle}/versions/${n}`, admin)).json?.status;
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-retention-"));
  dataDir = path.join(work, "data");
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  env = {
    PORT: String(port),
    HUBKEEP_PUBLIC_URL: `http://localhost:${port}`,
    HUBKEEP_DATA_DIR: dataDir,
    HUBKEEP_ADMIN_EMAIL: "admin@example.com",
    HUBKEEP_ADMIN_PASSWORD: "admin-password-1",
    HUBKEEP_ANONYMOUS_READ: "true",
  };
  if (usingPostgres()) {
    const db = await createEmptyPostgresDatabase();
    env.DATABASE_URL = db.url;
    dropDb = db.drop;
  }
  server = await startServer(env);
  const s = await sessionCaller(base, "admin@example.com", "admin-password-1");
  await s("POST", "/api/v1/users", { email: "viewer@example.com", role: "viewer" });
  admin = (await s("POST", "/api/v1/tokens", { scope: "admin" })).token;
  viewer = (await s("POST", "/api/v1/tokens", { scope: "read", email: "viewer@example.com" })).token;

  // ops/a: two approved versions (keepLastApproved 1 deletes v1, never v2, the latest approved).
  // ops/b: a rejected version; ops/c: one never approved; ops/keep: a single approved version.
  assert.equal((await upload("ops/a", 1, halfPlusTwo)).status, 201);
  assert.equal((await upload("ops/a", 2, add4)).status, 201);
  assert.equal((await upload("ops/b", 1, variant(16))).status, 201);
  assert.equal((await upload("ops/c", 1, variant(32))).status, 201);
  assert.equal((await upload("ops/keep", 1, add4)).status, 201);
  for (const [h, n] of [
    ["ops/a", 1],
    ["ops/a", 2],
    ["ops/b", 1],
    ["ops/c", 1],
    ["ops/keep", 1],
  ] as const)
    await settled(h, n);
  for (const [h, n] of [
    ["ops/a", 1],
    ["ops/a", 2],
    ["ops/keep", 1],
  ] as const) {
    const r = await api("POST", `/api/v1/models/${h}/versions/${n}/approve`, admin, { note: "retention test" });
    assert.equal(r.status, 200, `${h}/${n}: ${r.text}`);
  }
  const rejected = await api("POST", "/api/v1/models/ops/b/versions/1/reject", admin, { reason: "not needed" });
  assert.equal(rejected.status, 200, rejected.text);
});

after(async () => {
  await server?.stop();
  await dropDb?.();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test("retention rules: admin only, and bad rules are a 422 naming the field", async () => {
  assert.equal((await api("GET", "/api/v1/retention", viewer)).status, 403);
  assert.equal((await api("POST", "/api/v1/retention/run", viewer, { dryRun: true })).status, 403);
  const cases: Array<[unknown, RegExp]> = [
    [{ rules: [{ match: "bad glob!", keepLastApproved: 1 }] }, /rules\.0\.match: "bad glob!" is not a handle glob/],
    [{ rules: [{ match: "ops/*" }] }, /rules\.0: a rule needs keepLastApproved/],
    [{ rules: [{ match: "ops/*", keepLastApproved: 0 }] }, /rules\.0\.keepLastApproved/],
    [{ rules: [{ match: "ops/*", deleteRejectedAfterDays: -1 }] }, /rules\.0\.deleteRejectedAfterDays/],
    [{ rules: [{ match: "ops/*", keepLast: 2 }] }, /rules\.0/],
    [{ rules: "all" }, /rules/],
  ];
  for (const [body, message] of cases) {
    const r = await api("PUT", "/api/v1/retention", admin, body);
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
    assert.match((r.json!.error as { message: string }).message, message);
  }
  assert.equal((await api("POST", "/api/v1/retention/run", admin, {})).status, 422, "dryRun is required");
  assert.deepEqual((await api("GET", "/api/v1/retention", admin)).json, { rules: [] });
});

test("the dry run lists and deletes nothing; the run deletes exactly that list; gc then frees the bytes", async () => {
  const rules = [
    { match: "ops/a", keepLastApproved: 1 },
    { match: "ops/*", keepLastApproved: 1, deleteRejectedAfterDays: 0, deleteUnapprovedAfterDays: 0 },
  ];
  const put = await api("PUT", "/api/v1/retention", admin, { rules });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json, { rules });

  const dry = await api("POST", "/api/v1/retention/run", admin, { dryRun: true });
  assert.equal(dry.status, 200, dry.text);
  const listed = (dry.json!.versions as Array<{ handle: string; version: number; reason: string }>).map(
    (v) => `${v.handle}/${v.version}`,
  );
  assert.deepEqual(listed.sort(), ["ops/a/1", "ops/b/1", "ops/c/1"]);
  const reasons = dry.json!.versions as Array<{ handle: string; reason: string }>;
  assert.match(reasons.find((r) => r.handle === "ops/a")!.reason, /rule 1 \(ops\/a\): keeps the last 1 approved/);
  assert.match(reasons.find((r) => r.handle === "ops/b")!.reason, /rule 2 \(ops\/\*\): rejected more than 0 day/);
  assert.equal(await statusOf("ops/a", 1), "approved", "a dry run deletes nothing");

  const run = await api("POST", "/api/v1/retention/run", admin, { dryRun: false });
  assert.equal(run.status, 200, run.text);
  assert.deepEqual(run.json!.versions, dry.json!.versions, "exactly what the dry run listed");
  for (const [h, n] of [
    ["ops/a", 1],
    ["ops/b", 1],
    ["ops/c", 1],
  ] as const)
    assert.equal(await statusOf(h, n), "deleted");
  assert.equal(await statusOf("ops/a", 2), "approved", "never the latest approved version");
  assert.equal(await statusOf("ops/keep", 1), "approved");
  assert.deepEqual((await api("POST", "/api/v1/retention/run", admin, { dryRun: true })).json!.versions, []);

  // The deleted version's URL is gone, saying when and why; its number is never reused.
  const gone = await fetch(`${base}/ops/a/1?lite-format=tflite`);
  assert.equal(gone.status, 410);
  assert.match(await gone.text(), /ops\/a\/1 was deleted on \d{4}-\d\d-\d\dT.*: rule 1 \(ops\/a\): keeps the last 1/);
  const reuse = await upload("ops/a", 1, halfPlusTwo);
  assert.equal(reuse.status, 409, reuse.text);
  assert.match(reuse.text, /never reused/);

  // gc beside the running server: the bytes only deleted versions held go; shared ones stay.
  assert.ok(fs.existsSync(blobFile(halfPlusTwo)) && fs.existsSync(blobFile(variant(16))));
  const gc = await runCommand(
    ["bin/hubkeep.mjs", "gc", "--apply", "--grace-hours", "0", "--json"],
    baseEnv({ HUBKEEP_DATA_DIR: dataDir, DATABASE_URL: env.DATABASE_URL }),
  );
  assert.equal(gc.code, 0, gc.stderr);
  const report = JSON.parse(gc.stdout) as { reclaimedBlobs: number; bytesFreed: number };
  assert.equal(report.reclaimedBlobs, 3);
  assert.equal(report.bytesFreed, halfPlusTwo.length + variant(16).length + variant(32).length);
  for (const b of [halfPlusTwo, variant(16), variant(32)]) assert.ok(!fs.existsSync(blobFile(b)), "reclaimed");
  assert.ok(fs.existsSync(blobFile(add4)), "ops/a v2 and ops/keep still use add4's bytes");
  assert.equal((await fetch(`${base}/ops/a/2?lite-format=tflite`)).status, 200);
});

test("the admin delete: a reason, 410 for its URLs, its document kept, a second delete a 409", async () => {
  assert.equal((await api("DELETE", "/api/v1/models/ops/keep/versions/1", viewer, { reason: "x" })).status, 403);
  const noReason = await api("DELETE", "/api/v1/models/ops/keep/versions/1", admin, { reason: " " });
  assert.equal(noReason.status, 422);
  assert.match(noReason.text, /reason/);
  const del = await api("DELETE", "/api/v1/models/ops/keep/versions/1", admin, { reason: "superseded by ops/a" });
  assert.equal(del.status, 200, del.text);
  assert.deepEqual(del.json, { handle: "ops/keep", version: 1, status: "deleted", previousStatus: "approved" });
  const doc = await api("GET", "/api/v1/models/ops/keep/versions/1", admin);
  assert.equal(doc.json!.status, "deleted");
  const deletion = doc.json!.deletion as { at: string; by: string; reason: string };
  assert.equal(deletion.by, "admin@example.com");
  assert.equal(deletion.reason, "superseded by ops/a");
  assert.equal((await fetch(`${base}/ops/keep/1?lite-format=tflite`)).status, 410);
  assert.equal((await fetch(`${base}/ops/keep?lite-format=tflite`)).status, 404, "no approved version is left");
  const again = await api("DELETE", "/api/v1/models/ops/keep/versions/1", admin, { reason: "again" });
  assert.equal(again.status, 409);
  assert.match(again.text, /already deleted \(superseded by ops\/a\)/);
  assert.equal((await api("DELETE", "/api/v1/models/ops/none/versions/1", admin, { reason: "x" })).status, 404);
  const audit = await api("GET", "/api/v1/audit?action=version.delete", admin);
  assert.equal((audit.json!.items as unknown[]).length, 4, "three by retention, one by hand");
});
