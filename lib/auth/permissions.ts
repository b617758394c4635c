// Pure permission predicates: no I/O, so they are tested as a full matrix. Every route handler and
// server action calls one of these itself; middleware is never the only check.
import type { Principal, RoleName, ScopeName } from "./principal.ts";

const ROLE_LEVEL: Record<RoleName, number> = { viewer: 1, publisher: 2, admin: 3 };
const SCOPE_LEVEL: Record<ScopeName, number> = { read: 1, publish: 2, admin: 3 };

/** The highest scope a role may hold: a token is never above its owner's role. */
export function maxScopeForRole(role: RoleName): ScopeName {
  return role === "admin" ? "admin" : role === "publisher" ? "publish" : "read";
}

/** The role a CLI-created user gets for a requested token scope. */
export function roleForScope(scope: ScopeName): RoleName {
  return scope === "admin" ? "admin" : scope === "publish" ? "publisher" : "viewer";
}

export function scopeAllowedForRole(scope: ScopeName, role: RoleName): boolean {
  return SCOPE_LEVEL[scope] <= ROLE_LEVEL[role];
}

/** 0 anonymous, 1 read, 2 publish, 3 admin: the lower of the role and the token scope. */
export function effectiveLevel(p: Principal): number {
  if (p.kind === "anonymous") return 0;
  const role = ROLE_LEVEL[p.role];
  return p.scope === null ? role : Math.min(role, SCOPE_LEVEL[p.scope]);
}

export type Permission = "read" | "read_unapproved" | "mirror" | "publish" | "approve" | "admin" | "token";

/** The level each permission needs; named in 403 messages. */
export const PERMISSION_LEVEL: Record<Permission, number> = {
  read: 1,
  read_unapproved: 3,
  mirror: 2,
  publish: 2,
  approve: 3,
  admin: 3,
  token: 1,
};

export function describePermission(perm: Permission): string {
  switch (perm) {
    case "read":
      return "read (viewer role or read scope)";
    case "read_unapproved":
      return "admin (to see versions that are not approved)";
    case "mirror":
      return "publish (publisher role or publish scope) to request mirrors";
    case "publish":
      return "publish (publisher role or publish scope)";
    case "approve":
      return "admin (to approve or reject versions)";
    case "admin":
      return "admin";
    case "token":
      return "token (a signed-in user managing their own tokens, at most their own role and scope; admin for others')";
  }
}

/** Approved versions: anyone signed in, and anonymous callers when anonymous read is on. */
export function canReadApproved(p: Principal, opts: { anonymousRead: boolean }): boolean {
  return p.kind === "anonymous" ? opts.anonymousRead : effectiveLevel(p) >= PERMISSION_LEVEL.read;
}

export function canReadUnapproved(p: Principal): boolean {
  return effectiveLevel(p) >= PERMISSION_LEVEL.read_unapproved;
}

export function canRequestMirror(p: Principal): boolean {
  return effectiveLevel(p) >= PERMISSION_LEVEL.mirror;
}

export function canApprove(p: Principal): boolean {
  return effectiveLevel(p) >= PERMISSION_LEVEL.approve;
}

export function canAdminister(p: Principal): boolean {
  return effectiveLevel(p) >= PERMISSION_LEVEL.admin;
}

/** Glob match of a handle against a namespace pattern (`*` within a segment, `**` across). */
export function handleMatches(pattern: string, handle: string): boolean {
  const re = pattern
    .toLowerCase()
    .split("")
    .map((c, i, all) => {
      if (c === "*") return all[i + 1] === "*" ? "" : all[i - 1] === "*" ? ".*" : "[^/]*";
      if (c === "?") return "[^/]";
      return c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    })
    .join("");
  // A trailing `/*` also covers deeper handles: `internal/vision/*` owns `internal/vision/a/b`.
  const deep = re.endsWith("/[^/]*") ? `${re.slice(0, -"[^/]*".length)}.+` : re;
  return new RegExp(`^${deep}$`).test(handle.toLowerCase());
}

/** Uploads: admins anywhere; publishers only under a namespace an admin assigned them. */
export function canPublishTo(p: Principal, handle: string): boolean {
  if (effectiveLevel(p) < PERMISSION_LEVEL.publish || p.kind === "anonymous") return false;
  if (effectiveLevel(p) >= PERMISSION_LEVEL.admin) return true;
  return p.namespaces.some((ns) => handleMatches(ns, handle));
}

/**
 * Creating an API token: any signed-in user, for a scope no higher than what the caller holds now
 * (a read-scoped token of an admin cannot mint an admin token).
 */
export function canCreateToken(p: Principal, scope: ScopeName): boolean {
  return p.kind === "user" && effectiveLevel(p) >= 1 && SCOPE_LEVEL[scope] <= effectiveLevel(p);
}

/** Listing and revoking tokens: the owner (any signed-in user) for their own, admins for anyone's. */
export function canManageToken(p: Principal, ownerId: string | null): boolean {
  if (p.kind !== "user" || effectiveLevel(p) < 1) return false;
  return canAdminister(p) || (ownerId !== null && ownerId === p.userId);
}

/** Re-running validation on a version: admins, as for approval. */
export function canRevalidate(p: Principal): boolean {
  return canApprove(p);
}

/** Versions that are not approved: admins everywhere, publishers inside their own namespaces. */
export function canReadUnapprovedIn(p: Principal, handle: string): boolean {
  return canReadUnapproved(p) || canPublishTo(p, handle);
}
