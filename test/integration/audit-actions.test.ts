// Every audited action writes exactly one audit row, with its actor, IP and target; sign-in failures
// are throttled per account; and the log cannot be changed through the application's database user.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setupTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { verifyCredentials, resolveOidcUser, SIGNIN_MAX_FAILURES } from "../../lib/auth/signin.ts";
import { createApiToken, revokeApiToken } from "../../lib/auth/tokens.ts";
import { createUser, updateUser } from "../../lib/models/users.ts";
import { addRule, removeRule, previewRule } from "../../lib/models/allowlist.ts";
import { approveVersion, rejectVersion } from "../../lib/models/approval.ts";
import { decideVersions } from "../../lib/models/review.ts";
import { type AppError } from "../../lib/errors.ts";
import type { UserPrincipal } from "../../lib/auth/principal.ts";

let t: TestDatabase;
let admin: UserPrincipal;
const IP = "192.0.2.7";

before(async () => {
  t = await setupTestDatabase();
  const u = await createUser({ email: "boss@example.com", role: "admin", password: "boss-password-1", actor: null });
  admin = { kind: "user", userId: u.id, email: u.email, role: "admin", scope: null, via: "session", namespaces: [] };
});
after(async () => {
  await t.drop();
});

/** Runs `fn` and returns the audit rows it wrote. */
async function rowsOf(fn: () => Promise<unknown>) {
  const prisma = t.handle.prisma;
  const last = (await prisma.auditEvent.findFirst({ orderBy: { id: "desc" } }))?.id ?? 0n;
  await fn();
  return prisma.auditEvent.findMany({ where: { id: { gt: last } }, orderBy: { id: "asc" } });
}

async function one(
  fn: () => Promise<unknown>,
  action: string,
  check: (row: Awaited<ReturnType<typeof rowsOf>>[number]) => void = () => {},
) {
  const rows = await rowsOf(fn);
  assert.deepEqual(
    rows.map((r) => r.action),
    [action],
    `expected exactly one ${action} row`,
  );
  check(rows[0]!);
  return rows[0]!;
}

let versionSeq = 0;
async function version(status: "validated" | "quarantined" | "failed") {
  const prisma = t.handle.prisma;
  const n = ++versionSeq;
  const digest = `sha256:${n.toString(16).padStart(64, "0")}`;
  await prisma.blob.create({ data: { digest, size: 10n, storageKey: `k${n}` } });
  const mod = await prisma.module.upsert({
    where: { handle: "google/audit" },
    create: { handle: "google/audit", source: "upstream", publisher: "google" },
    update: {},
  });
  await prisma.version.create({
    data: { moduleId: mod.id, number: n, format: "saved_model", status, digest, size: 10n },
  });
  return { handle: "google/audit", version: n };
}

test("sign-in success and each kind of failure: one row each, with the IP, and no password anywhere", async () => {
  await one(
    () => verifyCredentials({ email: "boss@example.com", password: "boss-password-1", ip: IP }),
    "auth.signin",
    (r) => {
      assert.equal(r.outcome, "ok");
      assert.equal(r.actorEmail, "boss@example.com");
      assert.equal(r.actorIp, IP);
    },
  );
  for (const [email, password, reason] of [
    ["boss@example.com", "wrong", "wrong password"],
    ["nobody@example.com", "whatever", "unknown email"],
    ["", "", "missing email or password"],
  ]) {
    await one(
      () => verifyCredentials({ email, password, ip: IP }),
      "auth.signin",
      (r) => {
        assert.equal(r.outcome, "denied");
        assert.equal((r.details as { reason: string }).reason, reason);
        assert.ok(
          !JSON.stringify(r.details).includes(`"${password}"`) || password === "",
          "the attempted password is not logged",
        );
      },
    );
  }
  const all = JSON.stringify(await t.handle.prisma.auditEvent.findMany(), (_k, v) =>
    typeof v === "bigint" ? String(v) : v,
  );
  assert.ok(!all.includes("boss-password-1"), "the password is never logged");
});

test("after too many failures an account's sign-in is refused without checking the password", async () => {
  await createUser({ email: "target@example.com", role: "viewer", password: "target-password-1", actor: null });
  for (let i = 0; i < SIGNIN_MAX_FAILURES; i++)
    assert.equal(await verifyCredentials({ email: "target@example.com", password: `guess-${i}`, ip: IP }), null);
  await one(
    async () =>
      assert.equal(
        await verifyCredentials({ email: "target@example.com", password: "target-password-1", ip: IP }),
        null,
      ),
    "auth.signin",
    (r) => assert.equal((r.details as { reason: string }).reason, "too many failures: throttled"),
  );
  // Other accounts are unaffected.
  assert.ok(await verifyCredentials({ email: "boss@example.com", password: "boss-password-1", ip: IP }));
});

test("single sign-on: first sign-in creates a viewer (two rows: user.create, auth.signin); later ones one row; unverified emails are refused", async () => {
  const first = await rowsOf(() =>
    resolveOidcUser({
      provider: "oidc",
      subject: "sub-1",
      email: "SSO@Example.com",
      emailVerified: true,
      name: "Sso User",
      ip: IP,
    }),
  );
  assert.deepEqual(
    first.map((r) => r.action),
    ["user.create", "auth.signin"],
  );
  const user = await t.handle.prisma.user.findUniqueOrThrow({
    where: { email: "sso@example.com" },
    include: { accounts: true },
  });
  assert.equal(user.role, "viewer");
  assert.equal(user.passwordHash, null);
  assert.deepEqual(
    user.accounts.map((a) => [a.provider, a.providerAccountId]),
    [["oidc", "sub-1"]],
  );
  await one(
    () =>
      resolveOidcUser({
        provider: "oidc",
        subject: "sub-1",
        email: "sso@example.com",
        emailVerified: true,
        name: null,
        ip: IP,
      }),
    "auth.signin",
  );
  await one(
    () =>
      resolveOidcUser({
        provider: "oidc",
        subject: "sub-2",
        email: "x@example.com",
        emailVerified: false,
        name: null,
        ip: IP,
      }),
    "auth.signin",
    (r) => assert.equal(r.outcome, "denied"),
  );
  await one(
    () =>
      resolveOidcUser({
        provider: "oidc",
        subject: "sub-3",
        email: undefined,
        emailVerified: true,
        name: null,
        ip: IP,
      }),
    "auth.signin",
    (r) => assert.equal(r.outcome, "denied"),
  );
  // A second identity claiming the same email cannot take over the account it is linked to.
  await one(
    () =>
      resolveOidcUser({
        provider: "oidc",
        subject: "sub-1",
        email: "boss@example.com",
        emailVerified: true,
        name: null,
        ip: IP,
      }),
    "auth.signin",
    (r) => assert.equal(r.outcome, "denied"),
  );
  // An SSO-only account has no password to guess.
  await one(
    () => verifyCredentials({ email: "sso@example.com", password: "anything-at-all", ip: IP }),
    "auth.signin",
    (r) => assert.equal(r.outcome, "denied"),
  );
});

test("tokens: create and revoke are one row each", async () => {
  const created = await rowsOf(() =>
    createApiToken({ email: "boss@example.com", scope: "read", actor: admin, ip: IP }),
  );
  assert.deepEqual(
    created.map((r) => [r.action, r.actorIp]),
    [["token.create", IP]],
  );
  const tokenId = (created[0]!.details as { tokenId: string }).tokenId;
  await one(() => revokeApiToken({ tokenId, actor: admin, ip: IP }), "token.revoke");
});

test("users: create, role change, namespace change, disable, enable, password reset are one row each", async () => {
  const u = await one(
    () => createUser({ email: "pub@example.com", role: "viewer", actor: admin, ip: IP }),
    "user.create",
  );
  const id = (await t.handle.prisma.user.findUniqueOrThrow({ where: { email: "pub@example.com" } })).id;
  assert.equal(u.target, "pub@example.com");
  await one(
    () => updateUser({ id, role: "publisher", actor: admin, ip: IP }),
    "user.role",
    (r) => assert.deepEqual(r.details, { from: "viewer", to: "publisher" }),
  );
  await one(() => updateUser({ id, namespaces: ["internal/team/*"], actor: admin, ip: IP }), "user.namespaces");
  assert.deepEqual(
    await rowsOf(() => updateUser({ id, namespaces: ["internal/team/*"], role: "publisher", actor: admin, ip: IP })),
    [],
    "no change, no row",
  );
  await one(() => updateUser({ id, disabled: true, actor: admin, ip: IP }), "user.disable");
  await one(() => updateUser({ id, disabled: false, actor: admin, ip: IP }), "user.enable");
  await one(() => updateUser({ id, password: "new-password-1", actor: admin, ip: IP }), "user.password");
  await assert.rejects(
    updateUser({ id, namespaces: ["team"], actor: admin }),
    (e: AppError) => e.status === 422 && /two segments/.test(e.message),
  );
});

test("allowlist: add and remove are one row each; a preview writes nothing", async () => {
  await t.handle.prisma.module.upsert({
    where: { handle: "google/audit" },
    create: { handle: "google/audit", source: "upstream", publisher: "google" },
    update: {},
  });
  const preview = await rowsOf(async () => {
    const p = await previewRule({ text: "!google/**" });
    assert.equal(p.total, 1);
    assert.deepEqual(p.matches[0], {
      handle: "google/audit",
      source: "upstream",
      allowedNow: false,
      allowedAfter: false,
    });
  });
  assert.deepEqual(preview, []);
  const add = await one(
    () => addRule({ text: "google/*", note: "vendor models", actor: admin, ip: IP }),
    "allowlist.add",
  );
  await one(() => removeRule({ id: (add.details as { id: string }).id, actor: admin, ip: IP }), "allowlist.remove");
});

test("decisions: approve, override, reject are one row each; refused decisions write nothing and say why", async () => {
  const a = await version("validated");
  await one(
    () => approveVersion({ ...a, note: "ok", actor: admin, ip: IP }),
    "version.approve",
    (r) => assert.equal(r.target, `google/audit/${a.version}`),
  );
  const q = await version("quarantined");
  await assert.rejects(
    approveVersion({ ...q, actor: admin }),
    (e: AppError) => e.status === 409 && /quarantined/.test(e.message),
  );
  await one(
    () => approveVersion({ ...q, overrideReason: "reviewed the custom op by hand", actor: admin, ip: IP }),
    "version.approve_override",
  );
  const r = await version("validated");
  await one(() => rejectVersion({ ...r, reason: "superseded", actor: admin, ip: IP }), "version.reject");
  const f = await version("failed");
  const refused = await rowsOf(() =>
    assert.rejects(
      approveVersion({ ...f, actor: admin }),
      (e: AppError) => e.status === 409 && /is failed/.test(e.message) && e.details?.status === "failed",
    ),
  );
  assert.deepEqual(refused, []);
  // Bulk: each decided on its own, one row per decided version.
  const b1 = await version("validated");
  const b2 = await version("failed");
  const b3 = await version("validated");
  const bulk = await rowsOf(async () => {
    const results = await decideVersions({
      decision: "approve",
      targets: [b1, b2, b3],
      note: "batch",
      actor: admin,
      ip: IP,
    });
    assert.deepEqual(
      results.map((x) => x.ok),
      [true, false, true],
    );
    assert.match(results[1]!.error!.message, /is failed: only validated versions can be approved/);
  });
  assert.deepEqual(
    bulk.map((x) => x.action),
    ["version.approve", "version.approve"],
  );
  await assert.rejects(
    decideVersions({ decision: "reject", targets: [b2], actor: admin }),
    (e: AppError) => e.status === 422,
  );
});

test("the audit log is append-only in the database", async () => {
  const row = await t.handle.prisma.auditEvent.findFirstOrThrow();
  await assert.rejects(
    t.handle.prisma.auditEvent.update({ where: { id: row.id }, data: { action: "forged" } }),
    /append-only/,
  );
  await assert.rejects(t.handle.prisma.auditEvent.deleteMany({}), /append-only/);
});
