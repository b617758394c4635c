// Behind https (an https HUBKEEP_PUBLIC_URL), next-auth's cookies are Secure and prefixed, and always
// HttpOnly and SameSite=Lax. Checked through next-auth's own handler with Hubkeep's options.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseEnv } from "../../lib/env.ts";

(globalThis as { __hubkeepEnv?: unknown }).__hubkeepEnv = parseEnv({
  HUBKEEP_PUBLIC_URL: "https://hub.example.com",
  AUTH_SECRET: "x".repeat(40),
  HUBKEEP_DATA_DIR: "/nonexistent-hubkeep-test",
});

test("https: session cookie name and options are secure; cookies are HttpOnly and SameSite=Lax", async () => {
  const { authOptions } = await import("../../lib/auth/nextauth.ts");
  const { sessionCookieName, readSessionCookie } = await import("../../lib/auth/session.ts");
  // next-auth's core is not in its package exports: load the file itself.
  const { AuthHandler } = createRequire(import.meta.url)(
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../node_modules/next-auth/core/index.js"),
  ) as {
    AuthHandler: (
      p: unknown,
    ) => Promise<{ cookies?: Array<{ name: string; value: string; options: Record<string, unknown> }> }>;
  };
  const opts = authOptions();
  assert.equal(opts.useSecureCookies, true);
  assert.equal(opts.secret, "x".repeat(40), "AUTH_SECRET is used; nothing is written to the data dir");
  assert.equal(sessionCookieName(), "__Secure-next-auth.session-token");
  assert.equal(readSessionCookie("a=1; __Secure-next-auth.session-token=abc; b=2"), "abc");
  assert.equal(
    readSessionCookie("next-auth.session-token=plain"),
    null,
    "the insecure name is not accepted behind https",
  );
  assert.equal(
    readSessionCookie("__Secure-next-auth.session-token.0=ab; __Secure-next-auth.session-token.1=cd"),
    "abcd",
    "chunked cookies are joined",
  );

  const res = await AuthHandler({
    req: { action: "csrf", method: "GET", headers: { host: "hub.example.com" }, cookies: {}, query: {}, body: {} },
    options: opts,
  });
  const csrf = res.cookies?.find((c) => c.name.includes("csrf-token"));
  assert.ok(csrf, JSON.stringify(res.cookies));
  assert.equal(csrf.name, "__Host-next-auth.csrf-token");
  assert.equal(csrf.options.secure, true);
  assert.equal(csrf.options.httpOnly, true);
  assert.equal(csrf.options.sameSite, "lax");
});
