// Signed webhooks end to end, against a real receiver on 127.0.0.1 that verifies every delivery with
// the `standardwebhooks` library: events from the one place each change happens (a version
// transition, a publish), retries on the contract's schedule (scaled down here; the default is
// checked in test/unit/webhooks.test.ts), a worker and queue restart between attempts, 410 Gone,
// redirects, huge answers, the metadata address, the HTTP API and the deliveries list, and the
// sweep that sends a delivery whose job was lost. No test connects anywhere but loopback.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { createTestWorld, type TestWorld } from "../helpers/world.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.ts";
import { setQueue, startQueue, type Queue } from "../../lib/jobs/queue.ts";
import { startWorker, type Worker } from "../../lib/jobs/worker.ts";
import { createApiToken, authenticateApiToken } from "../../lib/auth/tokens.ts";
import type { Principal } from "../../lib/auth/principal.ts";
import { publishVersion, transitionVersion } from "../../lib/models/versions.ts";
import {
  createWebhook,
  deleteWebhook,
  emitEvent,
  listDeliveries,
  sweepWebhookDeliveries,
  webhookDeliveryJob,
  webhookSweepJob,
} from "../../lib/models/webhooks.ts";
import { scaleRetryScheduleForTests } from "../../lib/webhooks/retry.ts";
import { createWebhookDispatcher, sendWebhook, MAX_RESPONSE_BYTES } from "../../lib/webhooks/sender.ts";
import { renderMetrics } from "../../lib/metrics.ts";
import { requestMirror } from "../../lib/models/mirror-request.ts";
import { runMirrorFetch } from "../../lib/models/mirror-fetch.ts";
import { resyncMirror } from "../../lib/models/mirror-resync.ts";
import type { FetchPolicy } from "../../lib/upstream/fetcher.ts";
import * as collection from "../../app/api/v1/webhooks/route.ts";
import * as single from "../../app/api/v1/webhooks/[id]/route.ts";
import * as deliveriesRoute from "../../app/api/v1/webhooks/[id]/deliveries/route.ts";
import * as testRoute from "../../app/api/v1/webhooks/[id]/test/route.ts";

const PUBLIC_URL = "https://hub.example.test";
/** The retry schedule runs at this fraction here: 1 s, then 6 s, then 24 s. */
const SCALE = 0.2;

let world: TestWorld;
let rx: WebhookReceiver;
let queue: Queue;
let worker: Worker;
let admin: Principal;
let adminToken: string;
let publisherToken: string;
let restoreScale: () => void;

async function startJobs(): Promise<void> {
  queue = await startQueue(world.db.handle, { supervise: false });
  setQueue(queue);
  worker = await startWorker(queue, [webhookDeliveryJob, webhookSweepJob], { pollingIntervalSeconds: 0.5 });
}

async function stopJobs(): Promise<void> {
  await worker?.stop();
  await queue?.stop({ graceful: true, timeoutMs: 5000 });
  setQueue(undefined);
}

async function until<T>(probe: () => Promise<T | null | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A webhook whose receiver path verifies with its secret; deleted after the test. */
async function hook(t: { after(fn: () => Promise<void>): void }, path: string, events: string[]) {
  const w = await createWebhook({ url: rx.url(path), events, actor: admin });
  rx.setSecret(path, w.secret);
  t.after(() => deleteWebhook({ id: w.id, actor: admin }).catch(() => {}));
  return w;
}

let versionCounter = 0;
async function publish(handle: string) {
  const bytes = Buffer.from(`TFL3 model ${++versionCounter}`);
  const put = await world.store.put(Readable.from([bytes]));
  return publishVersion({
    handle,
    version: 1,
    format: "tflite",
    source: { kind: "upload", userId: null },
    primary: { digest: put.digest, size: put.size },
    files: [{ path: "model.tflite", digest: put.digest, size: put.size }],
    actor: admin,
  });
}

async function deliveryOf(webhookId: string, type: string) {
  return world.db.handle.prisma.webhookDelivery.findFirst({
    where: { webhookId, type },
    include: { attemptsMade: { orderBy: { attempt: "asc" } } },
  });
}

async function webhookMetric(outcome: string): Promise<number> {
  const { body } = await renderMetrics();
  const m = new RegExp(`^hubkeep_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\d+)`, "m").exec(body);
  return m ? Number(m[1]) : 0;
}

type Json = Record<string, unknown>;
async function api<P extends object>(
  handler: (req: Request, ctx: { params: Promise<P> }) => Promise<Response>,
  method: string,
  path: string,
  opts: { body?: unknown; raw?: string; params?: P; token?: string } = {},
): Promise<{ status: number; json: Json }> {
  const res = await handler(
    new Request(`http://localhost${path}`, {
      method,
      headers: {
        authorization: `Bearer ${opts.token ?? adminToken}`,
        ...(opts.body !== undefined || opts.raw !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    }),
    { params: Promise.resolve(opts.params ?? ({} as P)) },
  );
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Json) : {} };
}

before(async () => {
  world = await createTestWorld({
    name: "webhooks",
    store: true,
    upstream: true,
    allowlist: ["google/*"],
    env: { HUBKEEP_PUBLIC_URL: PUBLIC_URL },
  });
  rx = await startWebhookReceiver();
  restoreScale = scaleRetryScheduleForTests(SCALE);
  await startJobs();
  adminToken = (
    await createApiToken({ email: "admin@example.com", scope: "admin", createUserIfMissing: true, actor: null })
  ).token;
  publisherToken = (
    await createApiToken({ email: "pub@example.com", scope: "publish", createUserIfMissing: true, actor: null })
  ).token;
  admin = await authenticateApiToken(adminToken);
});

after(async () => {
  restoreScale?.();
  await stopJobs().catch(() => {});
  await rx?.close();
  await world?.close();
});

test("a publish and a version transition each deliver a signed event the standardwebhooks library verifies", async (t) => {
  const w = await hook(t, "/t1", ["version.created", "version.validated", "version.rejected"]);
  const before = await webhookMetric("delivered");
  const published = Date.now();
  const v = await publish("internal/hooks/t1");
  const [created] = await rx.waitFor("/t1", 1, 10_000);
  assert.ok(created!.at - published < 5000, "sent at once (its job committed with the version)");
  assert.equal(created!.verifyError, null);
  assert.equal(created!.headers["content-type"], "application/json");
  const digest = v.digest;
  assert.deepEqual((created!.verified as Json).data, {
    handle: "internal/hooks/t1",
    version: 1,
    status: "pending",
    digest,
    url: `${PUBLIC_URL}/api/v1/models/internal/hooks/t1/versions/1`,
  });

  // pending -> validating sends nothing; validating -> validated sends version.validated.
  assert.ok(await transitionVersion(v.id, ["pending"], "validating"));
  assert.ok(await transitionVersion(v.id, ["validating"], "validated"));
  const got = await rx.waitFor("/t1", 2, 10_000);
  const validated = got[1]!;
  assert.equal(validated.verifyError, null, "the signature verifies");
  const body = validated.verified as { type: string; timestamp: string; data: Json };
  assert.equal(body.type, "version.validated");
  assert.ok(Math.abs(Date.parse(body.timestamp) - Date.now()) < 60_000);
  assert.equal(body.data.status, "validated");
  assert.equal(body.data.url, `${PUBLIC_URL}/api/v1/models/internal/hooks/t1/versions/1`);
  assert.deepEqual(Object.keys(JSON.parse(validated.body) as Json), ["type", "timestamp", "data"]);
  const row = await until(
    async () => {
      const r = await deliveryOf(w.id, "version.validated");
      return r?.status === "delivered" ? r : null;
    },
    5000,
    "the delivery recorded",
  );
  assert.equal(validated.headers["webhook-id"], row.eventId, "webhook-id is the delivery's event id");
  assert.match(String(validated.headers["webhook-timestamp"]), /^\d{10}$/);
  assert.equal(row.attempts, 1);

  // A transition that rolls back sends nothing: the event commits with the change or not at all.
  await assert.rejects(
    world.db.handle.prisma.$transaction(async (tx) => {
      await transitionVersion(v.id, ["validated"], "rejected", { rejectionReason: "no" }, { tx });
      throw new Error("roll back");
    }),
    /roll back/,
  );
  assert.equal(await deliveryOf(w.id, "version.rejected"), null);
  await new Promise((r) => setTimeout(r, 750));
  assert.equal(rx.to("/t1").length, 2);
  assert.ok((await webhookMetric("delivered")) >= before + 2);
  // The committed rejection is sent, saying why.
  assert.ok(await transitionVersion(v.id, ["validated"], "rejected", { rejectionReason: "licence unclear" }));
  const rejected = (await rx.waitFor("/t1", 3, 10_000))[2]!.verified as { type: string; data: Json };
  assert.equal(rejected.type, "version.rejected");
  assert.equal(rejected.data.status, "rejected");
  assert.equal(rejected.data.reason, "licence unclear");
});

test("a receiver answering 500 twice gets the event on the third attempt, spaced as the contract says", async (t) => {
  const w = await hook(t, "/t2", ["quota.warning"]);
  rx.respond("/t2", (_req, i) => ({ status: i < 2 ? 500 : 200, body: "ok" }));
  const retriedBefore = await webhookMetric("retried");
  const { eventId, deliveries } = await emitEvent("quota.warning", { namespace: "internal/*", ratio: 0.85 });
  assert.equal(deliveries, 1);
  const got = await rx.waitFor("/t2", 3, 30_000);
  assert.ok(got.every((r) => r.verifyError === null && r.headers["webhook-id"] === eventId));
  const d1 = got[1]!.at - got[0]!.at;
  const d2 = got[2]!.at - got[1]!.at;
  // Scaled: 1 s then 6 s. The contract's bounds: within 10 s, then within 60 s.
  assert.ok(d1 >= 5000 * SCALE - 250 && d1 <= 10_000, `second attempt ${d1} ms after the first`);
  assert.ok(d2 >= 30_000 * SCALE - 250 && d2 <= 60_000, `third attempt ${d2} ms after the second`);
  const row = await until(
    async () => {
      const r = await deliveryOf(w.id, "quota.warning");
      return r?.status === "delivered" ? r : null;
    },
    5000,
    "the delivery to be recorded delivered",
  );
  assert.equal(row.attempts, 3);
  assert.deepEqual(
    row.attemptsMade.map((a) => [a.attempt, a.statusCode]),
    [
      [1, 500],
      [2, 500],
      [3, 200],
    ],
  );
  assert.ok((await webhookMetric("retried")) >= retriedBefore + 2);
});

test("stopping the worker and its queue between attempts loses nothing: a new one delivers the retry", async (t) => {
  const w = await hook(t, "/t3", ["mirror.failed"]);
  rx.respond("/t3", (_req, i) => ({ status: i === 0 ? 503 : 204 }));
  const { eventId } = await emitEvent("mirror.failed", { mirrorId: "m1", error: "upstream unreachable" });
  await rx.waitFor("/t3", 1, 10_000);
  // The first attempt is recorded and the second scheduled (a job in the database), then everything stops.
  await until(async () => (await deliveryOf(w.id, "mirror.failed"))?.attempts === 1, 5000, "attempt 1 recorded");
  await stopJobs();
  const stoppedAt = Date.now();
  await new Promise((r) => setTimeout(r, 5000 * SCALE + 1000));
  assert.equal(rx.to("/t3").length, 1, "nothing is sent while no worker runs");
  await startJobs();
  const got = await rx.waitFor("/t3", 2, 15_000);
  assert.ok(got[1]!.at > stoppedAt);
  assert.equal(got[1]!.headers["webhook-id"], eventId);
  assert.equal(got[1]!.verifyError, null);
  await until(async () => (await deliveryOf(w.id, "mirror.failed"))?.status === "delivered", 5000, "delivered");
});

test("410 Gone disables the webhook, cancels its pending deliveries and is audited", async (t) => {
  // At the contract's schedule here, so the first delivery's retry (5 s) is still pending at the 410.
  const restore = scaleRetryScheduleForTests(1);
  t.after(restore);
  const w = await hook(t, "/t4", ["quota.warning", "quota.exceeded"]);
  rx.respond("/t4", (req) => ({ status: req.body.includes('"quota.exceeded"') ? 410 : 500 }));
  const disabledBefore = await webhookMetric("disabled");
  await emitEvent("quota.warning", { namespace: "a/*" });
  await rx.waitFor("/t4", 1, 10_000);
  const waiting = await until(
    async () => {
      const r = await deliveryOf(w.id, "quota.warning");
      return r?.attempts === 1 ? r : null;
    },
    5000,
    "the first delivery's attempt recorded",
  );
  assert.equal(waiting.status, "pending", "the 500 is retried later");
  await emitEvent("quota.exceeded", { namespace: "a/*" });
  await rx.waitFor("/t4", 2, 10_000);
  const hookRow = await until(
    async () => {
      const r = await world.db.handle.prisma.webhook.findUnique({ where: { id: w.id } });
      return r && !r.enabled ? r : null;
    },
    5000,
    "the webhook disabled",
  );
  assert.match(hookRow.disabledReason ?? "", /410 Gone/);
  assert.equal((await deliveryOf(w.id, "quota.warning"))!.status, "cancelled");
  assert.equal((await deliveryOf(w.id, "quota.exceeded"))!.status, "failed");
  const audit = await world.db.handle.prisma.auditEvent.findFirst({
    where: { action: "webhook.disable", target: w.id },
  });
  assert.ok(audit, "the disable is audited");
  assert.ok((await webhookMetric("disabled")) >= disabledBefore + 1);
  // The cancelled delivery is never retried, and a disabled webhook gets no new events.
  assert.equal((await emitEvent("quota.warning", { namespace: "a/*" })).deliveries, 0);
  await new Promise((r) => setTimeout(r, 5500));
  assert.equal(rx.to("/t4").length, 2);
});

test("a redirect is not followed: the 3xx is a failed attempt, retried, and its target never hit", async (t) => {
  const w = await hook(t, "/t5", ["alias.moved"]);
  rx.respond("/t5", () => ({ status: 302, headers: { location: rx.url("/t5-elsewhere") } }));
  await emitEvent("alias.moved", { handle: "internal/x", alias: "prod", version: 2 });
  await rx.waitFor("/t5", 2, 15_000);
  const row = await deliveryOf(w.id, "alias.moved");
  assert.equal(row!.attemptsMade[0]!.statusCode, 302);
  assert.match(
    row!.attemptsMade[0]!.error ?? "",
    /redirects are not followed \(Location: http:\/\/127\.0\.0\.1:\d+\/t5-elsewhere\)/,
  );
  assert.equal(rx.to("/t5-elsewhere").length, 0);
});

test("a huge answer is read to 64 KiB at most, then dropped; the 2xx still counts", async (t) => {
  const w = await hook(t, "/t6", ["upstream.drift"]);
  const total = 256 * 1024 * 1024;
  rx.respond("/t6", () => ({ status: 200, bodyBytes: total }));
  const started = Date.now();
  await emitEvent("upstream.drift", { handle: "google/x", version: 1 });
  const row = await until(
    async () => {
      const r = await deliveryOf(w.id, "upstream.drift");
      return r?.status === "delivered" ? r : null;
    },
    10_000,
    "the delivery recorded",
  );
  assert.equal(row.attemptsMade[0]!.statusCode, 200);
  assert.ok(Date.now() - started < 9000);
  const stat = await until(
    async () => {
      const s = rx.streamed.get("/t6");
      return s?.closedEarly ? s : null;
    },
    5000,
    "the receiver to see the connection dropped",
  );
  assert.ok(!stat.finished && stat.written < total, `the receiver wrote ${stat.written} of ${total} bytes`);

  // The sender itself reports what it read.
  rx.respond("/t6b", () => ({ status: 200, bodyBytes: 8 * 1024 * 1024 }));
  const r = await sendWebhook({ url: rx.url("/t6b"), body: "{}", headers: {} });
  assert.equal(r.statusCode, 200);
  assert.ok(r.responseBytes <= MAX_RESPONSE_BYTES && r.responseBytes > 0, `read ${r.responseBytes}`);
});

test("no answer within the timeout is a failed attempt", async () => {
  rx.respond("/t7", () => ({ hang: true }));
  const r = await sendWebhook({ url: rx.url("/t7"), body: "{}", headers: {}, timeoutMs: 500 });
  assert.equal(r.statusCode, null);
  assert.equal(r.error, "no answer within 0.5 s");
  assert.ok(r.durationMs >= 450 && r.durationMs < 5000, `${r.durationMs} ms`);
});

test("169.254.169.254 is refused: at creation in any spelling, and in the lookup hook for a name resolving to it", async () => {
  for (const url of ["http://169.254.169.254/latest", "http://2852039166/", "http://[::ffff:169.254.169.254]/"]) {
    const r = await api(collection.POST, "POST", "/api/v1/webhooks", { body: { url, events: ["*"] } });
    assert.equal(r.status, 422, url);
    assert.match(
      String((r.json.error as Json).message),
      /^url: address .* is a cloud metadata or unspecified address: refused/,
    );
  }
  // A name that resolves to it (DNS stands in: a table, not a server) is refused at creation...
  const table: Record<string, string[]> = {
    "metadata.test": ["169.254.169.254"],
    // Loopback first: were the hook to let the name through, the connection would go to the
    // receiver, never to the metadata address.
    "rebound.test": ["127.0.0.1", "169.254.169.254"],
    "mapped.test": ["127.0.0.1", "::ffff:169.254.169.254"],
    "receiver.test": ["127.0.0.1"],
  };
  const resolve = async (host: string) =>
    (table[host] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  await assert.rejects(
    createWebhook({ url: "http://metadata.test/x", events: ["*"], actor: admin, resolve }),
    /url: metadata\.test resolves to 169\.254\.169\.254: address 169\.254\.169\.254 is a cloud metadata/,
  );
  // ...and again in the sender's DNS lookup hook (a name that resolved elsewhere at creation).
  const dispatcher = createWebhookDispatcher({ resolve });
  const sent = rx.to("/t8").length;
  for (const host of ["rebound.test", "mapped.test"]) {
    const r = await sendWebhook({ url: `http://${host}:${rx.port}/t8`, body: "{}", headers: {}, dispatcher });
    assert.equal(r.statusCode, null, host);
    assert.match(r.error ?? "", new RegExp(`^refused: ${host.replace(".", "\\.")} resolved to .*169.* cloud metadata`));
  }
  assert.equal(rx.to("/t8").length, sent, "no request reached anyone");
  // The same dispatcher delivers to a name that resolves to loopback: the hook is what refused.
  const ok = await sendWebhook({ url: `http://receiver.test:${rx.port}/t8`, body: "{}", headers: {}, dispatcher });
  assert.equal(ok.statusCode, 204);
});

test("the HTTP API: statuses, 422s naming the field, secrets shown once, 404s, 403 for non-admins, audit", async (t) => {
  const created = await api(collection.POST, "POST", "/api/v1/webhooks", {
    body: { url: rx.url("/t9"), events: ["version.approved", "*"], description: "CI" },
  });
  assert.equal(created.status, 201);
  const id = String(created.json.id);
  t.after(() => deleteWebhook({ id, actor: admin }).catch(() => {}));
  const secret = String(created.json.secret);
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(created.json.url, rx.url("/t9"));
  assert.deepEqual(created.json.events, ["version.approved", "*"]);
  rx.setSecret("/t9", secret);

  const list = await api(collection.GET, "GET", "/api/v1/webhooks");
  assert.equal(list.status, 200);
  const item = (list.json.items as Json[]).find((i) => i.id === id)!;
  assert.equal(item.enabled, true);
  assert.equal(item.description, "CI");
  assert.ok(!JSON.stringify(list.json).includes(secret) && !("secret" in item), "no secret in the list");

  const bad = async (body: unknown, re: RegExp) => {
    const r = await api(collection.POST, "POST", "/api/v1/webhooks", { body });
    assert.equal(r.status, 422, JSON.stringify(body));
    assert.match(String((r.json.error as Json).message), re);
  };
  await bad({ url: "not a url", events: ["*"] }, /^url: "not a url" is not an absolute URL/);
  await bad({ url: "ftp://example.com/", events: ["*"] }, /^url: only http and https/);
  await bad({ url: rx.url("/x"), events: [] }, /^events: subscribe to at least one event type/);
  await bad({ url: rx.url("/x"), events: ["version.nope"] }, /^events\.0: unknown event type "version\.nope"/);
  await bad({ url: rx.url("/x") }, /^events: /);
  const notJson = await api(collection.POST, "POST", "/api/v1/webhooks", { raw: "{" });
  assert.equal(notJson.status, 400);
  const forbidden = await api(collection.POST, "POST", "/api/v1/webhooks", {
    body: { url: rx.url("/x"), events: ["*"] },
    token: publisherToken,
  });
  assert.equal(forbidden.status, 403);
  assert.equal((await api(collection.GET, "GET", "/api/v1/webhooks", { token: publisherToken })).status, 403);

  // The test event: 202, then a signed webhook.test arrives.
  const sent = await api(testRoute.POST, "POST", `/api/v1/webhooks/${id}/test`, { params: { id } });
  assert.equal(sent.status, 202);
  assert.equal(sent.json.type, "webhook.test");
  const [arrived] = await rx.waitFor("/t9", 1, 10_000);
  assert.equal(arrived!.verifyError, null);
  assert.equal((arrived!.verified as Json).type, "webhook.test");
  assert.equal(arrived!.headers["webhook-id"], sent.json.eventId);

  for (const [handler, method, path] of [
    [single.DELETE, "DELETE", "/api/v1/webhooks/nope"],
    [deliveriesRoute.GET, "GET", "/api/v1/webhooks/nope/deliveries"],
    [testRoute.POST, "POST", "/api/v1/webhooks/nope/test"],
  ] as const) {
    const r = await api(handler, method, path, { params: { id: "nope" } });
    assert.equal(r.status, 404, `${method} ${path}`);
    assert.match(String((r.json.error as Json).message), /no webhook nope/);
  }

  const removed = await api(single.DELETE, "DELETE", `/api/v1/webhooks/${id}`, { params: { id } });
  assert.equal(removed.status, 204);
  const after = await api(collection.GET, "GET", "/api/v1/webhooks");
  assert.ok(!(after.json.items as Json[]).some((i) => i.id === id));

  const audits = await world.db.handle.prisma.auditEvent.findMany({ where: { target: id } });
  assert.deepEqual(audits.map((a) => a.action).sort(), ["webhook.create", "webhook.delete"]);
  const everything = JSON.stringify(await world.db.handle.prisma.auditEvent.findMany(), (_k, v: unknown) =>
    typeof v === "bigint" ? String(v) : v,
  );
  assert.ok(!everything.includes(secret.slice(6)), "the secret is in no audit event");
});

test("the deliveries list: newest first, with event id, type, attempt, status code or error, and time", async (t) => {
  const w = await hook(t, "/t10", ["quota.exceeded"]);
  rx.respond("/t10", (_req, i) => ({ status: i === 0 ? 204 : 500 }));
  const first = await emitEvent("quota.exceeded", { namespace: "a/*" });
  await rx.waitFor("/t10", 1, 10_000);
  const second = await emitEvent("quota.exceeded", { namespace: "b/*" });
  await rx.waitFor("/t10", 2, 10_000);
  const items = await until(
    async () => {
      const r = await api(deliveriesRoute.GET, "GET", `/api/v1/webhooks/${w.id}/deliveries`, { params: { id: w.id } });
      assert.equal(r.status, 200);
      const list = r.json.items as Json[];
      return list.length === 2 && list.every((i) => Number(i.attempt) >= 1) ? list : null;
    },
    5000,
    "both deliveries attempted",
  );
  assert.deepEqual(
    items.map((i) => [i.eventId, i.type, i.attempt, i.statusCode, i.status]),
    [
      [second.eventId, "quota.exceeded", 1, 500, "pending"],
      [first.eventId, "quota.exceeded", 1, 204, "delivered"],
    ],
  );
  assert.equal(items[0]!.error, "HTTP 500");
  assert.ok(!Number.isNaN(Date.parse(String(items[0]!.time))));
  assert.ok(items[0]!.nextAttemptAt, "a pending delivery says when it is tried next");
  const limited = await listDeliveries(w.id, { limit: 1 });
  assert.equal(limited.length, 1);
  assert.equal(limited[0]!.eventId, second.eventId);
  const q = await api(deliveriesRoute.GET, "GET", `/api/v1/webhooks/${w.id}/deliveries?limit=0`, {
    params: { id: w.id },
  });
  assert.equal(q.status, 422);
  assert.match(String((q.json.error as Json).message), /^limit: /);
});

test("a delivery whose job was lost (no queue when it committed) is sent by the sweep once overdue", async (t) => {
  const w = await hook(t, "/t11", ["version.deleted"]);
  // The process that commits the event has no job queue: the row is written, no job is.
  setQueue(undefined);
  try {
    assert.equal((await emitEvent("version.deleted", { handle: "a/b", version: 1 })).deliveries, 1);
  } finally {
    setQueue(queue);
  }
  await new Promise((r) => setTimeout(r, 750));
  assert.equal(rx.to("/t11").length, 0, "no job: nothing sent");
  const row = await deliveryOf(w.id, "version.deleted");
  assert.equal(row!.status, "pending");
  // Not overdue yet: the sweep leaves it.
  assert.equal(await sweepWebhookDeliveries(), 0);
  // More than a minute overdue: the sweep sends it (exactly once, however often it runs).
  await world.db.handle.prisma.webhookDelivery.update({
    where: { id: row!.id },
    data: { nextAttemptAt: new Date(Date.now() - 2 * 60_000) },
  });
  const [a, b] = await Promise.all([sweepWebhookDeliveries(), sweepWebhookDeliveries()]);
  assert.equal(a + b, 1);
  const [got] = await rx.waitFor("/t11", 1, 10_000);
  assert.equal(got!.verifyError, null);
  await until(async () => (await deliveryOf(w.id, "version.deleted"))?.status === "delivered", 5000, "delivered");
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(rx.to("/t11").length, 1);
  // The worker keeps a sweep queued (it renews itself every minute).
  const sweeps = await queue.boss.findJobs(webhookSweepJob.name, { queued: true });
  assert.ok(sweeps.length >= 1, "a sweep is waiting");
});

test("a failed mirror sends mirror.failed and a drifted upstream sends upstream.drift (once per new digest)", async (t) => {
  await hook(t, "/t12", ["mirror.failed", "upstream.drift"]);
  const policy: FetchPolicy = {
    allowedHosts: [`127.0.0.1:${world.up.port}`],
    upstreamBase: world.up.base,
    allowPrivate: true,
    retries: 0,
    backoffMs: 10,
  };
  const { mirror: missing } = await requestMirror({ url: "https://tfhub.dev/google/no_such_model/1", actor: admin });
  const failed = await runMirrorFetch(missing.id, { policy });
  assert.equal(failed.status, "failed");
  const [first] = await rx.waitFor("/t12", 1, 10_000);
  const body = first!.verified as { type: string; data: Json };
  assert.equal(first!.verifyError, null);
  assert.equal(body.type, "mirror.failed");
  assert.equal(body.data.mirrorId, missing.id);
  assert.equal(body.data.handle, "google/no_such_model");
  assert.equal(body.data.error, failed.error);

  const { mirror } = await requestMirror({ url: "https://tfhub.dev/google/half_plus_two/1", actor: admin });
  const stored = await runMirrorFetch(mirror.id, { policy });
  assert.equal(stored.status, "stored", stored.error ?? "");
  assert.equal((await resyncMirror({ mirrorId: mirror.id, actor: admin, policy })).drift, false);
  const key = "google/half_plus_two@1";
  const original = world.up.overrides.get(key);
  const row = await world.db.handle.prisma.mirrorRequest.findUniqueOrThrow({
    where: { id: mirror.id },
    include: { version: true },
  });
  const archive = row.version!.digest;
  world.up.overrides.set(key, Buffer.from("different bytes under the same version number"));
  t.after(() => {
    if (original) world.up.overrides.set(key, original);
    else world.up.overrides.delete(key);
  });
  const drifted = await resyncMirror({ mirrorId: mirror.id, actor: admin, policy });
  assert.equal(drifted.drift, true);
  const got = await rx.waitFor("/t12", 2, 10_000);
  const drift = got[1]!.verified as { type: string; data: Json };
  assert.equal(drift.type, "upstream.drift");
  assert.equal(drift.data.handle, "google/half_plus_two");
  assert.equal(drift.data.version, 1);
  assert.equal(drift.data.digest, archive, "the stored digest");
  assert.equal(drift.data.upstreamDigest, drifted.upstreamDigest);
  assert.equal(drift.data.url, `${PUBLIC_URL}/api/v1/models/google/half_plus_two/versions/1`);
  // The same drift found again sends nothing new.
  assert.equal((await resyncMirror({ mirrorId: mirror.id, actor: admin, policy })).drift, true);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(rx.to("/t12").length, 2);
});

test("a queue this process has not used yet still commits the job with the caller's transaction", async (t) => {
  const w = await hook(t, "/t13", ["quota.warning"]);
  // A second queue on the same database, installed as the process's, that no webhook code has
  // touched (in embedded mode the send waits for the transaction; on PostgreSQL it joins it).
  const fresh = await startQueue(world.db.handle, { supervise: false });
  setQueue(fresh);
  t.after(async () => {
    setQueue(queue);
    await fresh.stop({ graceful: false, timeoutMs: 2000 });
  });
  const prisma = world.db.handle.prisma;
  const { eventId } = await prisma.$transaction((tx) => emitEvent("quota.warning", { namespace: "c/*" }, tx));
  const [got] = await rx.waitFor("/t13", 1, 10_000);
  assert.equal(got!.headers["webhook-id"], eventId);
  // A rolled-back event leaves no delivery, and its job (if any) sends nothing.
  await assert.rejects(
    prisma.$transaction(async (tx) => {
      await emitEvent("quota.warning", { namespace: "rolled/*" }, tx);
      throw new Error("roll back");
    }),
    /roll back/,
  );
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(rx.to("/t13").length, 1);
  assert.equal(await prisma.webhookDelivery.count({ where: { webhookId: w.id } }), 1);
});
