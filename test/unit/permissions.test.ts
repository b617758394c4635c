import { test } from "node:test";
import assert from "node:assert/strict";
import {
  canAdminister,
  canApprove,
  canPublishTo,
  canReadApproved,
  canReadUnapproved,
  canRequestMirror,
  effectiveLevel,
  handleMatches,
  scopeAllowedForRole,
} from "../../lib/auth/permissions.ts";
import { ANONYMOUS, type Principal, type Role, type TokenScope } from "../../lib/auth/principal.ts";

const roles: Role[] = ["viewer", "publisher", "admin"];
const scopes: Array<TokenScope | null> = [null, "read", "publish", "admin"];

function user(role: Role, scope: TokenScope | null, namespaces: string[] = []): Principal {
  return { kind: "user", userId: "u", email: "u@x", role, scope, via: scope ? "token" : "session", namespaces };
}

// Expected level: the lower of role and scope (a token never lifts its owner above their role).
const level = { viewer: 1, publisher: 2, admin: 3, read: 1, publish: 2 } as const;

test("full matrix: role x token scope x permission", () => {
  for (const role of roles) {
    for (const scope of scopes) {
      const p = user(role, scope);
      const want = scope === null ? level[role] : Math.min(level[role], level[scope]);
      const label = `${role}/${scope ?? "session"}`;
      assert.equal(effectiveLevel(p), want, label);
      assert.equal(canReadApproved(p, { anonymousRead: false }), want >= 1, `${label} read`);
      assert.equal(canRequestMirror(p), want >= 2, `${label} mirror`);
      assert.equal(canApprove(p), want >= 3, `${label} approve`);
      assert.equal(canAdminister(p), want >= 3, `${label} admin`);
      assert.equal(canReadUnapproved(p), want >= 3, `${label} unapproved`);
    }
  }
});

test("anonymous callers read approved versions only when anonymous read is on", () => {
  assert.equal(canReadApproved(ANONYMOUS, { anonymousRead: true }), true);
  assert.equal(canReadApproved(ANONYMOUS, { anonymousRead: false }), false);
  assert.equal(canReadUnapproved(ANONYMOUS), false);
  assert.equal(canRequestMirror(ANONYMOUS), false);
  assert.equal(canApprove(ANONYMOUS), false);
  assert.equal(canPublishTo(ANONYMOUS, "internal/a/b"), false);
});

test("token scopes may not exceed the owner's role", () => {
  assert.equal(scopeAllowedForRole("read", "viewer"), true);
  assert.equal(scopeAllowedForRole("publish", "viewer"), false);
  assert.equal(scopeAllowedForRole("admin", "publisher"), false);
  assert.equal(scopeAllowedForRole("publish", "publisher"), true);
  assert.equal(scopeAllowedForRole("admin", "admin"), true);
});

test("publishers upload only inside their namespaces; admins anywhere", () => {
  const pub = user("publisher", "publish", ["internal/vision/*"]);
  assert.equal(canPublishTo(pub, "internal/vision/resnet"), true);
  assert.equal(canPublishTo(pub, "internal/vision/resnet/feature_vector"), true);
  assert.equal(canPublishTo(pub, "internal/nlp/bert"), false);
  assert.equal(canPublishTo(pub, "google/imagenet/x"), false);
  assert.equal(canPublishTo(user("publisher", "read", ["internal/vision/*"]), "internal/vision/resnet"), false);
  assert.equal(canPublishTo(user("viewer", null, ["internal/vision/*"]), "internal/vision/resnet"), false);
  assert.equal(canPublishTo(user("admin", null), "anything/at/all"), true);
  assert.equal(canPublishTo(user("admin", "publish"), "internal/x"), false);
});

test("unapproved versions: admins anywhere, publishers only in their namespaces", async () => {
  const { canReadUnapprovedIn } = await import("../../lib/auth/permissions.ts");
  assert.equal(canReadUnapprovedIn(user("publisher", null, ["internal/team/*"]), "internal/team/x"), true);
  assert.equal(canReadUnapprovedIn(user("publisher", null, ["internal/team/*"]), "google/x"), false);
  assert.equal(
    canReadUnapprovedIn(user("publisher", "read", ["internal/team/*"]), "internal/team/x"),
    false,
    "a read token sees approved only",
  );
  assert.equal(canReadUnapprovedIn(user("viewer", null), "internal/team/x"), false);
  assert.equal(canReadUnapprovedIn(user("admin", null), "google/x"), true);
  assert.equal(canReadUnapprovedIn(ANONYMOUS, "google/x"), false);
});

test("handle globs", () => {
  assert.equal(handleMatches("google/*", "google/imagenet"), true);
  assert.equal(handleMatches("google/*", "google/imagenet/mobilenet_v2/feature_vector"), true);
  assert.equal(handleMatches("google/*", "googlex/y"), false);
  assert.equal(handleMatches("google/?et", "google/net"), true);
  assert.equal(handleMatches("a.b/*", "axb/c"), false);
  assert.equal(handleMatches("tensorflow/tfjs-model/*", "TensorFlow/tfjs-model/x"), true);
});

test("token creation and management: never above what the caller holds now; owners and admins manage tokens", async () => {
  const { canCreateToken, canManageToken, canRevalidate } = await import("../../lib/auth/permissions.ts");
  const scopeLevel = { read: 1, publish: 2, admin: 3 } as const;
  for (const role of roles) {
    for (const scope of scopes) {
      const p = user(role, scope);
      const have = effectiveLevel(p);
      for (const want of ["read", "publish", "admin"] as const) {
        assert.equal(
          canCreateToken(p, want),
          scopeLevel[want] <= have,
          `${role}/${scope ?? "session"} creating ${want}`,
        );
      }
      assert.equal(canManageToken(p, "u"), true, "the owner manages their own tokens");
      assert.equal(
        canManageToken(p, "someone-else"),
        have >= 3,
        `${role}/${scope ?? "session"} managing another's token`,
      );
      assert.equal(canManageToken(p, null), have >= 3);
      assert.equal(canRevalidate(p), have >= 3);
    }
  }
  assert.equal(canCreateToken(ANONYMOUS, "read"), false);
  assert.equal(canManageToken(ANONYMOUS, "u"), false);
  assert.equal(canRevalidate(ANONYMOUS), false);
});
