// The authorization matrix over the JSON API of a real server: every principal (anonymous, bad,
// expired and revoked tokens, each role by token, an admin's read-scoped token, viewer and admin
// sessions) against every route. Allowed calls must not be refused; refused calls get 401 (no or
// bad credentials) or 403 naming the permission, and each refusal adds exactly one audit row.
// Then CSRF, the forged `x-middleware-subrequest` header, and sign-in failures.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, runCommand, baseEnv, freePort, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { postCredentials, signInSession } from "../helpers/session.ts";

let server: RunningServer;
let base: string;
let work: string;
let dropDb: (() => Promise<void>) | undefined;
const ADMIN = { email: "admin@example.com", password: "admin-password-1" };

type Who = { name: string; headers: Record<string, string>; level: number | "bad" | "anonymous" };
const who: Record<string, Who> = {};
let adminToken: string;

async function call(method: string, url: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${base}${url}`, {
    method,
    redirect: "manual",
    headers: { origin: base, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: { error?: { code: string; message: string } } | null = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}

async function newestDeniedId(): Promise<number> {
  const r = await call("GET", "/api/v1/audit?outcome=denied&limit=1", { authorization: `Bearer ${adminToken}` });
  assert.equal(r.status, 200, r.text);
  const items = (r.json as unknown as { items: Array<{ id: string }> }).items;
  return items.length ? Number(items[0]!.id) : 0;
}

async function deniedSince(id: number): Promise<Array<{ id: string; action: string }>> {
  const r = await call("GET", "/api/v1/audit?outcome=denied&limit=50", { authorization: `Bearer ${adminToken}` });
  return (r.json as unknown as { items: Array<{ id: string; action: string }> }).items.filter((e) => Number(e.id) > id);
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-authz-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    PORT: String(port),
    HUBKEEP_PUBLIC_URL: `http://localhost:${port}`,
    HUBKEEP_DATA_DIR: path.join(work, "data"),
    HUBKEEP_ADMIN_EMAIL: ADMIN.email,
    HUBKEEP_ADMIN_PASSWORD: ADMIN.password,
  };
  if (usingPostgres()) {
    const db = await createEmptyPostgresDatabase();
    env.DATABASE_URL = db.url;
    dropDb = db.drop;
  }
  // A token that expires a second after it is made: created on the host before the server starts.
  const expired = await runCommand(
    ["bin/hubkeep.mjs", "token", "create", "--email", "old@example.com", "--scope", "read", "--expires", "0.00001"],
    baseEnv(env),
  );
  assert.equal(expired.code, 0, expired.stderr);
  server = await startServer(env);

  const adminSession = await signInSession(base, ADMIN.email, ADMIN.password);
  const s = { cookie: adminSession };
  const mk = async (email: string, role: string) => {
    const r = await call("POST", "/api/v1/users", s, { email, role, password: `${role}-password-1` });
    assert.equal(r.status, 201, r.text);
    return (r.json as unknown as { id: string }).id;
  };
  const pubId = await mk("pub@example.com", "publisher");
  await mk("viewer@example.com", "viewer");
  const ns = await call("PATCH", `/api/v1/users/${pubId}`, s, { namespaces: ["internal/team/*"] });
  assert.equal(ns.status, 200, ns.text);
  const token = async (email: string, scope: string) => {
    const r = await call("POST", "/api/v1/tokens", s, { email, scope, name: `matrix ${scope}` });
    assert.equal(r.status, 201, r.text);
    return r.json as unknown as { id: string; token: string };
  };
  adminToken = (await token(ADMIN.email, "admin")).token;
  const adminRead = (await token(ADMIN.email, "read")).token;
  const pub = (await token("pub@example.com", "publish")).token;
  const viewer = (await token("viewer@example.com", "read")).token;
  const revoked = await token("viewer@example.com", "read");
  assert.equal((await call("DELETE", `/api/v1/tokens/${revoked.id}`, s)).status, 204);

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  who.anonymous = { name: "anonymous", headers: {}, level: "anonymous" };
  who.garbage = {
    name: "garbage token",
    headers: bearer("hk_not-a-real-token-at-all-not-a-real-token-a"),
    level: "bad",
  };
  who.expired = { name: "expired token", headers: bearer(expired.stdout.trim()), level: "bad" };
  who.revoked = { name: "revoked token", headers: bearer(revoked.token), level: "bad" };
  who.viewer = { name: "viewer token", headers: bearer(viewer), level: 1 };
  who.publisher = { name: "publisher token", headers: bearer(pub), level: 2 };
  who.admin = { name: "admin token", headers: bearer(adminToken), level: 3 };
  who.adminRead = { name: "admin's read-scoped token", headers: bearer(adminRead), level: 1 };
  who.viewerSession = {
    name: "viewer session",
    headers: { cookie: await signInSession(base, "viewer@example.com", "viewer-password-1") },
    level: 1,
  };
  who.adminSession = { name: "admin session", headers: s, level: 3 };
});

after(async () => {
  await server?.stop();
  await dropDb?.();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

// need: "anyone" (no auth at all), "anon-read" (anonymous allowed while HUBKEEP_ANONYMOUS_READ),
// or the level the permission needs: 1 read/token, 2 publish/mirror, 3 admin.
type Route = { method: string; path: string; body?: unknown; need: "anyone" | "anon-read" | 1 | 2 | 3 };
const ROUTES: Route[] = [
  { method: "GET", path: "/healthz", need: "anyone" },
  { method: "GET", path: "/api/v1/models/google/none/versions/1", need: "anon-read" },
  { method: "GET", path: "/api/v1/models/google/none", need: "anon-read" },
  { method: "GET", path: "/api/v1/me", need: 1 },
  { method: "GET", path: "/api/v1/tokens", need: 1 },
  { method: "POST", path: "/api/v1/tokens", body: { scope: "read", name: "matrix" }, need: 1 },
  { method: "POST", path: "/api/v1/tokens", body: { scope: "publish", name: "matrix" }, need: 2 },
  { method: "POST", path: "/api/v1/tokens", body: { scope: "admin", name: "matrix" }, need: 3 },
  { method: "GET", path: "/api/v1/tokens?all=true", need: 3 },
  { method: "DELETE", path: "/api/v1/tokens/no-such-token", need: 1 },
  { method: "GET", path: "/api/v1/mirrors", need: 1 },
  { method: "GET", path: "/api/v1/mirrors/no-such-mirror", need: 1 },
  { method: "POST", path: "/api/v1/mirrors", body: { url: "not a url" }, need: 2 },
  { method: "POST", path: "/api/v1/mirrors/no-such-mirror/resync", need: 3 },
  { method: "POST", path: "/api/v1/models/google/none/versions/1/approve", body: {}, need: 3 },
  { method: "POST", path: "/api/v1/models/google/none/versions/1/reject", body: { reason: "matrix" }, need: 3 },
  { method: "POST", path: "/api/v1/models/google/none/versions/1/validate", need: 3 },
  { method: "GET", path: "/api/v1/review", need: 3 },
  {
    method: "POST",
    path: "/api/v1/review/decisions",
    body: { decision: "approve", versions: [{ handle: "google/none", version: 1 }] },
    need: 3,
  },
  { method: "GET", path: "/api/v1/audit", need: 3 },
  { method: "GET", path: "/api/v1/allowlist", need: 3 },
  { method: "POST", path: "/api/v1/allowlist", body: { rule: "matrix/*" }, need: 3 },
  { method: "GET", path: "/api/v1/allowlist/preview?rule=google/*", need: 3 },
  { method: "DELETE", path: "/api/v1/allowlist/no-such-rule", need: 3 },
  { method: "GET", path: "/api/v1/users", need: 3 },
  { method: "POST", path: "/api/v1/users", body: { email: "not-an-email", role: "viewer" }, need: 3 },
  { method: "PATCH", path: "/api/v1/users/no-such-user", body: { role: "viewer" }, need: 3 },
];

test("role x endpoint matrix: every refusal is 401/403 as it should be, and audited exactly once", async () => {
  let checked = 0;
  let refused = 0;
  for (const route of ROUTES) {
    for (const w of Object.values(who)) {
      const label = `${w.name} ${route.method} ${route.path}`;
      const before = await newestDeniedId();
      const r = await call(route.method, route.path, w.headers, route.body);
      const denied = await deniedSince(before);
      let expect: "allowed" | 401 | 403;
      if (route.need === "anyone") expect = "allowed";
      else if (w.level === "bad") expect = 401;
      else if (w.level === "anonymous") expect = route.need === "anon-read" ? "allowed" : 401;
      else expect = route.need === "anon-read" || w.level >= route.need ? "allowed" : 403;
      if (expect === "allowed") {
        assert.ok(
          r.status !== 401 && r.status !== 403,
          `${label}: expected to pass the permission check, got ${r.status} ${r.text}`,
        );
        assert.equal(denied.length, 0, `${label}: an allowed call wrote a denial: ${JSON.stringify(denied)}`);
      } else {
        refused++;
        assert.equal(r.status, expect, `${label}: ${r.text}`);
        assert.equal(r.json?.error?.code, expect === 401 ? "unauthorized" : "forbidden", label);
        if (expect === 403) assert.match(r.json.error.message, /needs the .* permission/, label);
        if (w.level === "bad")
          assert.equal(
            r.json.error.message,
            "invalid or expired credentials",
            `${label}: no hint which part was wrong`,
          );
        assert.equal(denied.length, 1, `${label}: expected exactly one denial row, got ${JSON.stringify(denied)}`);
        if (w.level === "bad") assert.equal(denied[0]!.action, "auth.token", label);
        else assert.match(denied[0]!.action, /^denied\.(read|mirror|publish|approve|admin|token)$/, label);
      }
      checked++;
    }
  }
  assert.equal(checked, ROUTES.length * Object.keys(who).length);
  assert.ok(refused > 100, `refused ${refused}`);
});

test("approving a version that does not exist is 404, a reject without a reason 422, and tokens never exceed the caller", async () => {
  const admin = who.admin!.headers;
  assert.equal((await call("POST", "/api/v1/models/google/none/versions/1/reject", admin, {})).status, 422);
  assert.equal(
    (
      await call("POST", "/api/v1/review/decisions", admin, {
        decision: "reject",
        versions: [{ handle: "google/none", version: 1 }],
      })
    ).status,
    422,
  );
  // The admin's read-scoped token cannot mint an admin token (no escalation through scopes).
  const r = await call("POST", "/api/v1/tokens", who.adminRead!.headers, { scope: "admin" });
  assert.equal(r.status, 403, r.text);
  // A publisher cannot mint a token for someone else.
  const other = await call("POST", "/api/v1/tokens", who.publisher!.headers, {
    scope: "read",
    email: "viewer@example.com",
  });
  assert.equal(other.status, 403, other.text);
});

test("CSRF: cookie-authenticated mutations must be same-origin; bearer tokens are not affected", async () => {
  const cookie = who.adminSession!.headers.cookie!;
  const post = (headers: Record<string, string>, rule: string) =>
    fetch(`${base}/api/v1/allowlist`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json", ...headers },
      body: JSON.stringify({ rule }),
    });
  const cases: Array<[string, Record<string, string>]> = [
    ["no Origin or Sec-Fetch-Site", {}],
    ["foreign Origin", { origin: "https://evil.example" }],
    ["Origin: null", { origin: "null" }],
    ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site", origin: base }],
    ["Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site" }],
    ["a look-alike Origin", { origin: `${base}.evil.example` }],
  ];
  for (const [i, [name, headers]] of cases.entries()) {
    const before = await newestDeniedId();
    const r = await post(headers, `csrf-${i}/*`);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(r.status, 403, name);
    assert.match(body.error.message, /cross-site request refused/, name);
    const denied = await deniedSince(before);
    assert.deepEqual(
      denied.map((d) => d.action),
      ["denied.csrf"],
      name,
    );
  }
  const rules = await call("GET", "/api/v1/allowlist", who.admin!.headers);
  assert.ok(!JSON.stringify(rules.json).includes("csrf-"), "no refused request created a rule");
  // Same origin, by Origin (the public URL's or the Host's) or by Sec-Fetch-Site.
  assert.equal((await post({ origin: base }, "same-origin-a/*")).status, 201);
  assert.equal((await post({ origin: server.url.replace("127.0.0.1", "localhost") }, "same-origin-b/*")).status, 201);
  assert.equal((await post({ "sec-fetch-site": "same-origin" }, "same-origin-c/*")).status, 201);
  // Safe methods are not checked; bearer tokens are not cookies and are not checked.
  assert.equal(
    (await fetch(`${base}/api/v1/allowlist`, { headers: { cookie, origin: "https://evil.example" } })).status,
    200,
  );
  const tokenPost = await fetch(`${base}/api/v1/allowlist`, {
    method: "POST",
    headers: { ...who.admin!.headers, origin: "https://evil.example", "content-type": "application/json" },
    body: JSON.stringify({ rule: "token-post/*" }),
  });
  assert.equal(tokenPost.status, 201);
});

test("a forged x-middleware-subrequest header changes nothing", async () => {
  const forged = {
    "x-middleware-subrequest": "middleware:middleware:middleware:middleware:middleware",
    "x-middleware-prefetch": "1",
  };
  assert.equal((await call("GET", "/api/v1/audit", forged)).status, 401);
  assert.equal((await call("GET", "/api/v1/users", { ...forged, ...who.viewer!.headers })).status, 403);
  assert.equal(
    (await call("POST", "/api/v1/allowlist", { ...forged, ...who.viewerSession!.headers }, { rule: "forged/*" }))
      .status,
    403,
  );
  const page = await fetch(`${base}/admin/users`, { headers: { ...forged, ...who.viewerSession!.headers } });
  const html = await page.text();
  assert.match(html, /Not allowed/);
  assert.doesNotMatch(html, /pub@example\.com/);
  const anon = await fetch(`${base}/admin`, { headers: forged, redirect: "manual" });
  assert.ok(
    [303, 307, 308].includes(anon.status) || /Sign in to Hubkeep/.test(await anon.text()),
    `anonymous /admin: ${anon.status}`,
  );
});

test("sign-in: a wrong password and an unknown email look the same (401), both audited; cookies are HttpOnly and SameSite=Lax", async () => {
  const before = await newestDeniedId();
  const wrong = await postCredentials(base, ADMIN.email, "not-the-password");
  const unknown = await postCredentials(base, "nobody@example.com", "not-the-password");
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  assert.equal(wrong.body, unknown.body, "no hint which part was wrong");
  assert.equal(wrong.cookie, null);
  const denied = await deniedSince(before);
  assert.deepEqual(denied.map((d) => d.action).sort(), ["auth.signin", "auth.signin"]);

  const ok = await postCredentials(base, ADMIN.email, ADMIN.password);
  assert.equal(ok.status, 200);
  const set = ok.setCookie.find((c) => c.startsWith("next-auth.session-token="))!;
  assert.match(set, /; HttpOnly/i);
  assert.match(set, /; SameSite=Lax/i);
  assert.doesNotMatch(set, /; Secure/i, "plain http: the browser would drop a Secure cookie");
  // The cookie is a credential for the API (via: session) …
  const me = await call("GET", "/api/v1/me", { cookie: ok.cookie! });
  assert.equal((me.json as unknown as { via: string }).via, "session");
  // … and a tampered one is nobody.
  const tampered = ok.cookie!.slice(0, -4) + (ok.cookie!.endsWith("AAAA") ? "BBBB" : "AAAA");
  assert.equal((await call("GET", "/api/v1/me", { cookie: tampered })).status, 401);
});

test("disabling a user ends their sessions and tokens at once", async () => {
  const users = (await call("GET", "/api/v1/users", who.admin!.headers)).json as unknown as {
    items: Array<{ id: string; email: string }>;
  };
  const viewer = users.items.find((u) => u.email === "viewer@example.com")!;
  assert.equal((await call("GET", "/api/v1/me", who.viewerSession!.headers)).status, 200);
  const r = await call("PATCH", `/api/v1/users/${viewer.id}`, who.admin!.headers, { disabled: true });
  assert.equal(r.status, 200, r.text);
  assert.equal((await call("GET", "/api/v1/me", who.viewerSession!.headers)).status, 401);
  assert.equal((await call("GET", "/api/v1/me", who.viewer!.headers)).status, 401);
  assert.equal((await postCredentials(base, "viewer@example.com", "viewer-password-1")).status, 401);
  // The last admin cannot be demoted.
  const me = users.items.find((u) => u.email === ADMIN.email)!;
  const demote = await call("PATCH", `/api/v1/users/${me.id}`, who.admin!.headers, { role: "viewer" });
  assert.equal(demote.status, 409, demote.text);
  assert.match(demote.json!.error!.message, /last admin/);
});

test("hubkeep approve / reject talk to the API with the caller's token, and say what was wrong", async () => {
  const tokenOf = (w: Who) => w.headers.authorization!.replace("Bearer ", "");
  const cli = (args: string[], token: string) =>
    runCommand(["bin/hubkeep.mjs", ...args], baseEnv({ HUBKEEP_URL: base, HUBKEEP_TOKEN: token }));
  const missing = await cli(["approve", "google/none", "1", "--note", "fine"], tokenOf(who.admin!));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /404: no version 1 of google\/none/);
  const noReason = await cli(["reject", "google/none", "1"], tokenOf(who.admin!));
  assert.equal(noReason.code, 2);
  assert.match(noReason.stderr, /--reason is required/);
  const viewer = await cli(["reject", "google/none", "1", "--reason", "no"], tokenOf(who.publisher!));
  assert.equal(viewer.code, 1);
  assert.match(viewer.stderr, /403: this needs the admin \(to approve or reject versions\) permission/);
});
