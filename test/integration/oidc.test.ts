// Single sign-on through next-auth's real OAuth flow against a standard OIDC issuer (a fake one on
// loopback): discovery, authorization code with PKCE and state, ID token verification, then a
// Hubkeep session. First sign-in creates a viewer; an unverified email is refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, freePort, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { startFakeOidc, type FakeOidc } from "../helpers/fake-oidc.ts";

let server: RunningServer;
let idp: FakeOidc;
let base: string;
let publicBase: string;
let work: string;
let dropDb: (() => Promise<void>) | undefined;

before(async () => {
  idp = await startFakeOidc();
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-oidc-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  publicBase = `http://localhost:${port}`;
  const env: Record<string, string | undefined> = {
    PORT: String(port),
    HUBKEEP_PUBLIC_URL: publicBase,
    HUBKEEP_DATA_DIR: path.join(work, "data"),
    HUBKEEP_OIDC_ISSUER: idp.issuer,
    HUBKEEP_OIDC_CLIENT_ID: idp.clientId,
    HUBKEEP_OIDC_CLIENT_SECRET: idp.clientSecret,
    HUBKEEP_ADMIN_EMAIL: "admin@example.com",
    HUBKEEP_ADMIN_PASSWORD: "admin-password-1",
  };
  if (usingPostgres()) {
    const db = await createEmptyPostgresDatabase();
    env.DATABASE_URL = db.url;
    dropDb = db.drop;
  }
  server = await startServer(env);
});

after(async () => {
  await server?.stop();
  await idp?.close();
  await dropDb?.();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** A browser's cookie jar, enough for one host. */
class Jar {
  private cookies = new Map<string, string>();
  take(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === "" || /expires=Thu, 01 Jan 1970/i.test(c) || /max-age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  has(name: string) {
    return this.cookies.has(name);
  }
}

/** Runs the whole browser flow; returns the jar and where the server sent the browser at the end. */
async function ssoSignIn(): Promise<{ jar: Jar; finalLocation: string }> {
  const jar = new Jar();
  const csrf = await fetch(`${base}/api/auth/csrf`);
  jar.take(csrf);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const start = await fetch(`${base}/api/auth/signin/oidc`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header(), origin: publicBase },
    body: new URLSearchParams({ csrfToken, callbackUrl: `${publicBase}/`, json: "true" }),
  });
  jar.take(start);
  const { url: authorizeUrl } = (await start.json()) as { url: string };
  assert.ok(authorizeUrl.startsWith(`${idp.issuer}/authorize?`), authorizeUrl);
  const authorize = new URL(authorizeUrl);
  assert.equal(authorize.searchParams.get("code_challenge_method"), "S256");
  assert.ok(authorize.searchParams.get("state"));
  assert.equal(authorize.searchParams.get("redirect_uri"), `${publicBase}/api/auth/callback/oidc`);
  const atIdp = await fetch(authorizeUrl, { redirect: "manual" });
  assert.equal(atIdp.status, 302);
  // The issuer sends the browser back to the public URL (localhost); this test talks to 127.0.0.1.
  const callback = atIdp.headers.get("location")!.replace(publicBase, base);
  const back = await fetch(callback, { redirect: "manual", headers: { cookie: jar.header() } });
  jar.take(back);
  return { jar, finalLocation: back.headers.get("location") ?? "" };
}

test("a first SSO sign-in creates a viewer with a session; later sign-ins reuse the account", async () => {
  idp.user = { sub: "kc-123", email: "Ada@Example.com", email_verified: true, name: "Ada" };
  const { jar, finalLocation } = await ssoSignIn();
  assert.equal(finalLocation, `${publicBase}/`);
  assert.ok(jar.has("next-auth.session-token"), "a session cookie was set");
  const me = await fetch(`${base}/api/v1/me`, { headers: { cookie: jar.header() } });
  assert.equal(me.status, 200);
  const body = (await me.json()) as { email: string; role: string; via: string };
  assert.deepEqual([body.email, body.role, body.via], ["ada@example.com", "viewer", "session"]);
  assert.equal(idp.tokenRequests, 1, "the code was exchanged once, with the client secret and PKCE verifier");

  const again = await ssoSignIn();
  const me2 = (await (await fetch(`${base}/api/v1/me`, { headers: { cookie: again.jar.header() } })).json()) as {
    id: string;
    email: string;
  };
  assert.equal(me2.email, "ada@example.com");

  // The audit log has the account creation once and both sign-ins.
  const adminCsrf = await fetch(`${base}/api/auth/csrf`);
  const adminJar = new Jar();
  adminJar.take(adminCsrf);
  const { csrfToken } = (await adminCsrf.json()) as { csrfToken: string };
  const signin = await fetch(`${base}/api/auth/callback/credentials`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: adminJar.header(), origin: publicBase },
    body: new URLSearchParams({ csrfToken, email: "admin@example.com", password: "admin-password-1", json: "true" }),
  });
  adminJar.take(signin);
  const audit = (await (
    await fetch(`${base}/api/v1/audit?target=ada@example.com`, { headers: { cookie: adminJar.header() } })
  ).json()) as { items: Array<{ action: string; outcome: string; details: { provider?: string } }> };
  assert.deepEqual(audit.items.map((e) => `${e.action}:${e.outcome}`).reverse(), [
    "user.create:ok",
    "auth.signin:ok",
    "auth.signin:ok",
  ]);
  assert.equal(audit.items[0]!.details.provider, "oidc");
});

test("an identity whose email is not verified is refused and gets no session", async () => {
  idp.user = { sub: "kc-999", email: "mallory@example.com", email_verified: false };
  const { jar, finalLocation } = await ssoSignIn();
  assert.match(finalLocation, /error=AccessDenied/);
  assert.equal(jar.has("next-auth.session-token"), false);
});

test("the sign-in page offers single sign-on when an issuer is configured", async () => {
  const html = await (await fetch(`${base}/signin`)).text();
  assert.match(html, /Sign in with single sign-on/);
});
