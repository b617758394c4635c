// Aliases through the real server: the admin API and its refusals (422 for a bad name or version,
// 404 for an unknown model or version, 409 naming a version's status, 403 for a viewer), the 302
// from /{handle}/@{name} with Cache-Control: no-cache for every hub format and for model.json, the
// real TF.js client loading through an alias before and after a move, the model document, the
// audit trail and the signed alias.moved events, and retention leaving an aliased version alone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { startServer, freePort, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { callApi, sessionCaller } from "../helpers/api-client.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { startFakeUpstream, FAKE_MODELS, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.ts";

const BLAZE = "tensorflow/tfjs-model/blazeface/1/default";
const MATMUL = "tensorflow/tfjs-model/matmul/1/default"; // validated, never approved

let server: RunningServer;
let base: string;
let work: string;
let up: FakeUpstream;
let receiver: WebhookReceiver;
let dropDb: (() => Promise<void>) | undefined;
let admin: string;
let viewer: string;

const api = (method: string, url: string, token: string, body?: unknown) => callApi(base, method, url, token, body);

async function waitValidated(handle: string, n: number) {
  for (const until = Date.now() + 180_000; Date.now() < until;) {
    const r = await api("GET", `/api/v1/models/${handle}/versions/${n}`, admin);
    const status = r.json?.status;
    if (status === "validated") return;
    if (status === "failed" || status === "quarantined") throw new Error(`${handle}/${n} is ${String(status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${handle}/${n} was not validated in time`);
}

before(async () => {
  await tf.setBackend("cpu");
  // A second version with other bytes (another TF.js graph model), so a move is visible in what loads.
  FAKE_MODELS[`${BLAZE}@2`] = { kind: "tfjs", dir: fixturePath("tfjs-graph-model-matmul"), modelJson: "model.json" };
  up = await startFakeUpstream();
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-aliases-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    PORT: String(port),
    HUBKEEP_PUBLIC_URL: base,
    HUBKEEP_DATA_DIR: path.join(work, "data"),
    HUBKEEP_UPSTREAM_TFHUB: up.base,
    HUBKEEP_UPSTREAM_HOSTS: `127.0.0.1:${up.port}`,
    HUBKEEP_ALLOW_PRIVATE_UPSTREAM: "true",
    HUBKEEP_ALLOWLIST: "tensorflow/*",
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
  receiver = await startWebhookReceiver();
  const hook = await api("POST", "/api/v1/webhooks", admin, { url: receiver.url("/alias"), events: ["alias.moved"] });
  assert.equal(hook.status, 201, hook.text);
  receiver.setSecret("/alias", String(hook.json!.secret));

  for (const [handle, n] of [
    [BLAZE, 1],
    [BLAZE, 2],
    [MATMUL, 1],
  ] as const) {
    const m = await api("POST", "/api/v1/mirrors", admin, { url: `https://tfhub.dev/${handle}/${n}` });
    assert.equal(m.status, 202, m.text);
    await waitValidated(handle, n);
  }
  for (const n of [1, 2]) {
    const ok = await api("POST", `/api/v1/models/${BLAZE}/versions/${n}/approve`, admin, {});
    assert.equal(ok.status, 200, ok.text);
  }
});

after(async () => {
  delete FAKE_MODELS[`${BLAZE}@2`];
  await server?.stop();
  await receiver?.close();
  await up?.close();
  await dropDb?.();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const aliasUrl = (handle: string, name: string) => `/api/v1/models/${handle}/aliases/${name}`;

test("bad aliases are refused, naming what was wrong, and change nothing", async () => {
  const cases: Array<[string, string, unknown, number, RegExp]> = [
    [BLAZE, "Prod", { version: 1 }, 422, /alias "Prod" is not a name/],
    [BLAZE, "9lives", { version: 1 }, 422, /alias "9lives" is not a name/],
    [BLAZE, "a".repeat(33), { version: 1 }, 422, /is not a name/],
    [BLAZE, "prod", { version: "one" }, 422, /version/],
    [BLAZE, "prod", {}, 422, /version/],
    [BLAZE, "prod", { version: 7 }, 404, /no version 7 of tensorflow\/tfjs-model\/blazeface\/1\/default/],
    ["tensorflow/nothing-here", "prod", { version: 1 }, 404, /no model tensorflow\/nothing-here/],
    [MATMUL, "prod", { version: 1 }, 409, /is validated: an alias can only point to an approved version/],
  ];
  for (const [handle, name, body, status, message] of cases) {
    const r = await api("PUT", aliasUrl(handle, name), admin, body);
    assert.equal(r.status, status, `${handle} @${name} ${JSON.stringify(body)}: ${r.text}`);
    assert.match(String((r.json?.error as { message?: string } | undefined)?.message), message, r.text);
  }
  const denied = await api("PUT", aliasUrl(BLAZE, "prod"), viewer, { version: 1 });
  assert.equal(denied.status, 403, denied.text);
  const doc = await api("GET", `/api/v1/models/${BLAZE}`, admin);
  assert.deepEqual(doc.json!.aliases, {}, "nothing was set");
  const missing = await api("DELETE", aliasUrl(BLAZE, "prod"), admin);
  assert.equal(missing.status, 404, missing.text);
  assert.match(missing.text, /has no alias prod/);
});

test("an alias redirects every hub format to the pinned URL, moves with audit and alias.moved, and TF.js follows it", async () => {
  const set = await api("PUT", aliasUrl(BLAZE, "prod"), admin, { version: 1 });
  assert.equal(set.status, 200, set.text);
  assert.deepEqual(set.json, { handle: BLAZE, alias: "prod", version: 1, previousVersion: null, changed: true });

  for (const [suffix, location] of [
    ["?tfjs-format=file", `/${BLAZE}/1?tfjs-format=file`],
    ["?tfjs-format=compressed", `/${BLAZE}/1?tfjs-format=compressed`],
    ["?tf-hub-format=compressed", `/${BLAZE}/1?tf-hub-format=compressed`],
    ["/model.json", `/${BLAZE}/1/model.json`],
    ["/model.json?tfjs-format=file", `/${BLAZE}/1/model.json?tfjs-format=file`],
  ]) {
    const r = await fetch(`${base}/${BLAZE}/@prod${suffix}`, { redirect: "manual" });
    assert.equal(r.status, 302, `@prod${suffix}: ${await r.text()}`);
    assert.equal(r.headers.get("location"), location, suffix);
    assert.equal(r.headers.get("cache-control"), "no-cache", suffix);
  }
  // A browser opening the alias lands on the pinned version's page.
  const page = await fetch(`${base}/${BLAZE}/@prod`, { redirect: "manual" });
  assert.equal(page.status, 302);
  assert.equal(page.headers.get("location"), `/${BLAZE}/1`);
  const unknown = await fetch(`${base}/${BLAZE}/@canary?tfjs-format=file`, { redirect: "manual" });
  assert.equal(unknown.status, 404);
  assert.match(await unknown.text(), /has no alias canary \(it has: prod\)/);
  const badName = await fetch(`${base}/${BLAZE}/@Prod?tfjs-format=file`, { redirect: "manual" });
  assert.equal(badName.status, 400);
  assert.match(await badName.text(), /"@Prod" is not an alias/);

  // The real TF.js client, unmodified: loadGraphModel(url, {fromTFHub: true}) through the alias.
  const pinned = async (n: number) => (await fetch(`${base}/${BLAZE}/${n}/model.json`)).text();
  const [v1, v2] = [await pinned(1), await pinned(2)];
  assert.notEqual(v1, v2, "the two versions differ, so the test can tell them apart");
  const viaAlias = async () => (await fetch(`${base}/${BLAZE}/@prod/model.json`)).text();
  assert.equal(await viaAlias(), v1);
  const m1 = await tf.loadGraphModel(`${base}/${BLAZE}/@prod`, { fromTFHub: true });
  assert.ok(m1.inputs.length > 0);

  // Move it: the next request follows, audited, with the signed event.
  const moved = await api("PUT", aliasUrl(BLAZE, "prod"), admin, { version: 2 });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.json!.previousVersion, 1);
  assert.equal(await viaAlias(), v2, "the move is seen at once (no-cache, and this process dropped its cache)");
  const m2 = await tf.loadGraphModel(`${base}/${BLAZE}/@prod`, { fromTFHub: true });
  assert.ok(m2.inputs.length > 0);
  const again = await api("PUT", aliasUrl(BLAZE, "prod"), admin, { version: 2 });
  assert.equal(again.json!.changed, false, "pointing it where it points changes nothing");

  const doc = await api("GET", `/api/v1/models/${BLAZE}`, viewer);
  assert.deepEqual(doc.json!.aliases, { prod: 2 });
  const audit = await api("GET", "/api/v1/audit?action=alias.set", admin);
  const rows = (
    audit.json!.items as Array<{ details: { alias: string; version: number; previousVersion: number | null } }>
  )
    .map((e) => e.details)
    .filter((d) => d.alias === "prod");
  assert.deepEqual(
    rows.map((d) => [d.version, d.previousVersion]).sort(),
    [
      [1, null],
      [2, 1],
    ].sort(),
    "two changes audited, the no-op not",
  );
  const events = await receiver.waitFor("/alias", 2, 30_000);
  assert.ok(
    events.every((e) => e.verifyError === null),
    "signed, and the library verifies them",
  );
  assert.deepEqual(
    events.map((e) => (e.verified as { type: string; data: Record<string, unknown> }).data),
    [
      { handle: BLAZE, alias: "prod", version: 1, previousVersion: null },
      { handle: BLAZE, alias: "prod", version: 2, previousVersion: 1 },
    ],
  );

  // Retention keeps the aliased version even where a rule would delete it.
  const canary = await api("PUT", aliasUrl(BLAZE, "canary"), admin, { version: 1 });
  assert.equal(canary.status, 200, canary.text);
  const rules = await api("PUT", "/api/v1/retention", admin, {
    rules: [{ match: "tensorflow/*", keepLastApproved: 1 }],
  });
  assert.equal(rules.status, 200, rules.text);
  const dry = await api("POST", "/api/v1/retention/run", admin, { dryRun: true });
  assert.equal(dry.status, 200, dry.text);
  assert.deepEqual(dry.json!.versions, [], "v1 is aliased (canary), v2 is the latest approved");
  await api("PUT", "/api/v1/retention", admin, { rules: [] });

  // Removing it: the alias serves nothing, the event says so.
  const removed = await api("DELETE", aliasUrl(BLAZE, "prod"), admin);
  assert.equal(removed.status, 200, removed.text);
  assert.deepEqual(removed.json, { handle: BLAZE, alias: "prod", previousVersion: 2 });
  const gone = await fetch(`${base}/${BLAZE}/@prod/model.json`, { redirect: "manual" });
  assert.equal(gone.status, 404);
  const last = await receiver.waitFor("/alias", 4, 30_000);
  assert.deepEqual((last[3]!.verified as { data: unknown }).data, {
    handle: BLAZE,
    alias: "prod",
    version: null,
    previousVersion: 2,
  });
});

test("an alias left on a withdrawn version serves nothing and says why", async () => {
  const r = await api("POST", `/api/v1/models/${BLAZE}/versions/1/reject`, admin, { reason: "withdrawn for the test" });
  assert.equal(r.status, 200, r.text);
  const res = await fetch(`${base}/${BLAZE}/@canary/model.json`, { redirect: "manual" });
  assert.equal(res.status, 404);
  assert.match(
    await res.text(),
    /alias canary of .* points to version 1, which is rejected: nothing is served under it/,
  );
  const doc = await api("GET", `/api/v1/models/${BLAZE}`, admin);
  assert.deepEqual(doc.json!.aliases, {}, "the document lists only aliases that serve something");
});
