// Quotas through the real server: the admin API and its 422s, an upload refused up front from its
// Content-Length, a streamed one refused as it crosses, the final check at publish counting the
// archive's extracted files, quota.warning at 80 %, a limit below usage allowed with a warning, and
// the storage and quota gauges on /metrics. Every refusal leaves nothing stored.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, freePort, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { answer, callApi, sessionCaller, type Answer } from "../helpers/api-client.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.ts";

let server: RunningServer;
let base: string;
let work: string;
let dataDir: string;
let dropDb: (() => Promise<void>) | undefined;
let admin: string;
let viewer: string;
let receiver: WebhookReceiver;

/** The verified events the receiver got, by type. */
const eventsOf = (type: string) =>
  receiver
    .to("/quota")
    .map((r) => r.verified as { type: string; data: Record<string, unknown> } | null)
    .filter((v) => v?.type === type);

const halfPlusTwo = fs.readFileSync(fixturePath("serving-half_plus_two_tflite", "model.tflite")); // 768 bytes
const add4 = fs.readFileSync(fixturePath("tfjs-tflite-add4", "add4.tflite")); // 952 bytes
const hubArchive = fs.readFileSync(fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz"));

const api = (method: string, url: string, token: string, body?: unknown) => callApi(base, method, url, token, body);

async function upload(handlePath: string, body: Buffer, streamed = false): Promise<Answer> {
  const payload: BodyInit = streamed
    ? new ReadableStream({
        start(c) {
          // Two chunks, so the refusal happens while the body is arriving.
          c.enqueue(new Uint8Array(body.subarray(0, 100)));
          c.enqueue(new Uint8Array(body.subarray(100)));
          c.close();
        },
      })
    : new Uint8Array(body);
  return answer(
    await fetch(`${base}/api/v1/models/${handlePath}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${admin}` },
      body: payload,
      duplex: "half",
    } as RequestInit),
  );
}

function storedBlobs(): number {
  let n = 0;
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (/^[0-9a-f]{64}$/.test(e.name)) n++;
    }
  };
  walk(path.join(dataDir, "blobs"));
  return n;
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-quotas-"));
  dataDir = path.join(work, "data");
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    PORT: String(port),
    HUBKEEP_PUBLIC_URL: `http://localhost:${port}`,
    HUBKEEP_DATA_DIR: dataDir,
    HUBKEEP_ADMIN_EMAIL: "admin@example.com",
    HUBKEEP_ADMIN_PASSWORD: "admin-password-1",
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
  // A real receiver on loopback, verifying the signatures with the standardwebhooks library.
  receiver = await startWebhookReceiver();
  const hook = await api("POST", "/api/v1/webhooks", admin, {
    url: receiver.url("/quota"),
    events: ["quota.warning", "quota.exceeded"],
  });
  assert.equal(hook.status, 201, hook.text);
  receiver.setSecret("/quota", String(hook.json!.secret));
});

after(async () => {
  await server?.stop();
  await receiver?.close();
  await dropDb?.();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test("the quota API: admin only, and bad fields are a 422 naming the field", async () => {
  assert.equal((await api("GET", "/api/v1/quotas", viewer)).status, 403);
  assert.equal((await api("PUT", "/api/v1/quotas", viewer, { namespace: "a/*", maxBytes: 1 })).status, 403);
  const cases: Array<[unknown, RegExp]> = [
    [{ maxBytes: 10 }, /namespace/],
    [{ namespace: "", maxBytes: 10 }, /namespace/],
    [{ namespace: "has space/*", maxBytes: 10 }, /namespace: "has space\/\*" is not a handle glob/],
    [{ namespace: "!deny/*", maxBytes: 10 }, /namespace/],
    [{ namespace: "team/*" }, /maxBytes/],
    [{ namespace: "team/*", maxBytes: -5 }, /maxBytes/],
    [{ namespace: "team/*", maxBytes: 1.5 }, /maxBytes/],
    [{ namespace: "team/*", maxBytes: "10" }, /maxBytes/],
  ];
  for (const [body, message] of cases) {
    const r = await api("PUT", "/api/v1/quotas", admin, body);
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
    assert.match((r.json!.error as { message: string }).message, message, JSON.stringify(body));
  }
  assert.equal((await api("DELETE", "/api/v1/quotas/nope", admin)).status, 404);
  assert.deepEqual((await api("GET", "/api/v1/quotas", admin)).json, { items: [] }, "nothing was saved");
});

test("a quota refuses uploads that would cross it, up front and while streaming, leaving nothing", async () => {
  const set = await api("PUT", "/api/v1/quotas", admin, { namespace: "internal/team/*", maxBytes: 1000 });
  assert.equal(set.status, 201, set.text);
  assert.equal(set.json!.usedBytes, 0);
  assert.equal(set.json!.warning, null);

  assert.equal((await upload("internal/team/small/versions/1", halfPlusTwo)).status, 201);
  const blobs = storedBlobs();
  const usage = (await api("GET", "/api/v1/quotas", admin)).json!.items as Array<Record<string, unknown>>;
  assert.equal(usage[0]!.usedBytes, halfPlusTwo.length);

  // 768 + 952 > 1000: refused from Content-Length, before reading.
  const upFront = await upload("internal/team/add4/versions/1", add4);
  assert.equal(upFront.status, 413, upFront.text);
  const refusal = upFront.json!.error as Record<string, unknown>;
  assert.equal(refusal.code, "quota_exceeded");
  assert.equal(
    refusal.message,
    `quota of "internal/team/*" exceeded: it holds 768 bytes of its 1000-byte limit, and this would add ${add4.length}`,
  );
  assert.deepEqual(refusal.details, { namespace: "internal/team/*", usedBytes: 768, maxBytes: 1000 });
  await receiver.waitFor("/quota", 1, 30_000);
  assert.deepEqual(eventsOf("quota.exceeded")[0]?.data, {
    namespace: "internal/team/*",
    usedBytes: 768,
    maxBytes: 1000,
    handle: "internal/team/add4",
  });
  // Without Content-Length: refused as the bytes cross the 232 left.
  const streamed = await upload("internal/team/add4/versions/1", add4, true);
  assert.equal(streamed.status, 413, streamed.text);
  assert.equal((streamed.json!.error as { code: string }).code, "quota_exceeded");
  assert.equal(storedBlobs(), blobs, "no blob was left behind");
  assert.equal((await api("GET", "/api/v1/models/internal/team/add4/versions/1", admin)).status, 404);

  // Another namespace is not limited by this quota.
  assert.equal((await upload("internal/other/add4/versions/1", add4)).status, 201);
});

test("crossing 80 % audits quota.warning; a limit below usage is allowed and says so", async () => {
  const raised = await api("PUT", "/api/v1/quotas", admin, { namespace: "internal/team/*", maxBytes: 1900 });
  assert.equal(raised.status, 200, raised.text);
  // 768 + 952 = 1720 of 1900: above 80 %.
  assert.equal((await upload("internal/team/add4/versions/1", add4)).status, 201);
  const audit = await api("GET", "/api/v1/audit?action=quota.warning", admin);
  assert.equal(audit.status, 200, audit.text);
  const events = audit.json!.items as Array<{ target: string; details: Record<string, number> }>;
  assert.equal(events.length, 1);
  assert.equal(events[0]!.target, "internal/team/*");
  assert.equal(events[0]!.details.usedBytes, 1720);
  await receiver.waitFor("/quota", 2, 30_000);
  assert.deepEqual(
    eventsOf("quota.warning").map((e) => e!.data),
    [{ namespace: "internal/team/*", usedBytes: 1720, maxBytes: 1900, handle: "internal/team/add4" }],
  );
  // The early check cannot know the bytes will be shared: it counts every incoming byte as new, so
  // even the same bytes under another number are refused up front once they do not fit the headroom.
  assert.equal((await upload("internal/team/add4/versions/2", add4)).status, 413);

  const lowered = await api("PUT", "/api/v1/quotas", admin, { namespace: "internal/team/*", maxBytes: 1000 });
  assert.equal(lowered.status, 200);
  assert.match(String(lowered.json!.warning), /already holds 1720 bytes, above the new limit of 1000/);
  assert.equal((await upload("internal/team/other/versions/1", halfPlusTwo)).status, 413);
});

test("the final check counts an archive's extracted files: past the limit, refused with nothing stored", async () => {
  // The archive alone fits; with its extracted files it does not.
  const set = await api("PUT", "/api/v1/quotas", admin, {
    namespace: "internal/hub/*",
    maxBytes: hubArchive.length + 100,
  });
  assert.equal(set.status, 201);
  const blobs = storedBlobs();
  const r = await upload("internal/hub/half_plus_two/versions/1", hubArchive);
  assert.equal(r.status, 413, r.text);
  assert.match((r.json!.error as { message: string }).message, /quota of "internal\/hub\/\*" exceeded/);
  assert.equal(storedBlobs(), blobs, "the archive and its files were removed");
  assert.equal((await api("GET", "/api/v1/models/internal/hub/half_plus_two/versions/1", admin)).status, 404);
});

test("/metrics shows storage by namespace and each quota's limit", async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /^hubkeep_storage_bytes\{namespace="internal\/team\/\*"\} 1720$/m);
  assert.match(text, /^hubkeep_quota_bytes\{namespace="internal\/team\/\*"\} 1000$/m);
  assert.match(text, /^hubkeep_quota_bytes\{namespace="internal\/hub\/\*"\} 1465$/m);
  // internal/other/add4 is under no quota: counted under its first segment.
  assert.match(text, new RegExp(`^hubkeep_storage_bytes\\{namespace="internal"\\} ${add4.length}$`, "m"));
  const items = (await api("GET", "/api/v1/quotas", admin)).json!.items as Array<{ id: string; namespace: string }>;
  for (const q of items) assert.equal((await api("DELETE", `/api/v1/quotas/${q.id}`, admin)).status, 204);
  assert.equal(((await api("GET", "/api/v1/quotas", admin)).json!.items as unknown[]).length, 0);
});
