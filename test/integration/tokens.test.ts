import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setupTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { authenticateApiToken, createApiToken, hashApiToken, revokeApiToken } from "../../lib/auth/tokens.ts";
import { authenticateRequest } from "../../lib/http/authenticate.ts";
import { createUser, ensureBootstrapAdmin } from "../../lib/models/users.ts";
import { verifyPassword } from "../../lib/auth/password.ts";
import { AppError } from "../../lib/errors.ts";

let t: TestDatabase;
before(async () => {
  t = await setupTestDatabase();
});
after(async () => {
  await t.drop();
});

const is401 = (err: unknown) =>
  err instanceof AppError && err.status === 401 && err.message === "invalid or expired credentials";

test("a created token authenticates; only its hash is stored and the hash is not a credential", async () => {
  const { token, id } = await createApiToken({
    email: "Pub@Example.com",
    scope: "publish",
    createUserIfMissing: true,
    actor: null,
  });
  assert.match(token, /^hk_[A-Za-z0-9_-]{43}$/);
  const row = await t.handle.prisma.apiToken.findUniqueOrThrow({ where: { id }, include: { user: true } });
  assert.equal(row.user.email, "pub@example.com");
  assert.equal(row.user.role, "publisher", "CLI-created users get the role the scope needs");
  assert.equal(row.tokenHash, hashApiToken(token));
  const dump = JSON.stringify(await t.handle.prisma.apiToken.findMany());
  assert.ok(!dump.includes(token), "the token itself is nowhere in the table");

  const p = await authenticateApiToken(token);
  assert.equal(p.email, "pub@example.com");
  assert.equal(p.scope, "publish");
  await assert.rejects(authenticateApiToken(row.tokenHash), is401);
  await assert.rejects(authenticateApiToken(`hk_${row.tokenHash.slice(0, 43)}`), is401);
});

test("Bearer and Basic (token as password) headers resolve; bad ones are 401 without a hint", async () => {
  const { token } = await createApiToken({
    email: "reader@example.com",
    scope: "read",
    createUserIfMissing: true,
    actor: null,
  });
  const bearer = await authenticateRequest(new Request("http://x/", { headers: { authorization: `Bearer ${token}` } }));
  assert.equal(bearer.kind === "user" && bearer.email, "reader@example.com");
  const basic = await authenticateRequest(
    new Request("http://x/", {
      headers: { authorization: `Basic ${Buffer.from(`token:${token}`).toString("base64")}` },
    }),
  );
  assert.equal(basic.kind === "user" && basic.scope, "read");
  assert.equal((await authenticateRequest(new Request("http://x/"))).kind, "anonymous");
  await assert.rejects(
    authenticateRequest(new Request("http://x/", { headers: { authorization: "Bearer hk_nope" } })),
    is401,
  );
  await assert.rejects(authenticateRequest(new Request("http://x/", { headers: { authorization: "Digest abc" } })), {
    status: 401,
  });
});

test("expired and revoked tokens are refused, and each refusal is audited", async () => {
  const { token: expired, id: expiredId } = await createApiToken({
    email: "e@example.com",
    scope: "read",
    createUserIfMissing: true,
    expiresInDays: 1,
    actor: null,
  });
  await t.handle.prisma.apiToken.update({ where: { id: expiredId }, data: { expiresAt: new Date(Date.now() - 1000) } });
  await assert.rejects(authenticateApiToken(expired), is401);

  const { token: revoked, id: revokedId } = await createApiToken({
    email: "e@example.com",
    scope: "read",
    actor: null,
  });
  assert.ok(await authenticateApiToken(revoked));
  await revokeApiToken({ tokenId: revokedId, actor: null });
  await assert.rejects(authenticateApiToken(revoked), is401);

  const denials = await t.handle.prisma.auditEvent.findMany({ where: { action: "auth.token", outcome: "denied" } });
  const reasons = denials.map((d) => (d.details as { reason: string }).reason);
  assert.ok(reasons.includes("expired") && reasons.includes("revoked"), reasons.join(","));
});

test("a token's scope may not exceed its owner's role", async () => {
  await createUser({ email: "viewer@example.com", role: "viewer", actor: null });
  await assert.rejects(createApiToken({ email: "viewer@example.com", scope: "admin", actor: null }), {
    status: 403,
    message: /above the viewer role/,
  });
  await assert.rejects(createApiToken({ email: "ghost@example.com", scope: "read", actor: null }), { status: 404 });
  await assert.rejects(createApiToken({ email: "viewer@example.com", scope: "read", expiresInDays: -1, actor: null }), {
    status: 422,
  });
});

test("the bootstrap admin is created once, with a printed password when none is configured", async () => {
  const first = await ensureBootstrapAdmin({});
  assert.ok(first?.generatedPassword && first.generatedPassword.length >= 20);
  const admin = await t.handle.prisma.user.findUniqueOrThrow({ where: { email: first.email } });
  assert.equal(admin.role, "admin");
  assert.ok(admin.passwordHash && admin.passwordHash !== first.generatedPassword);
  assert.equal(await verifyPassword(first.generatedPassword, admin.passwordHash), true);
  assert.equal(await verifyPassword("wrong-password", admin.passwordHash), false);
  assert.equal(await ensureBootstrapAdmin({ email: "other@example.com", password: "another-password" }), null);
  assert.equal(await t.handle.prisma.user.count({ where: { role: "admin" } }), 1);
});
