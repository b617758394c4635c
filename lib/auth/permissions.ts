// Pure permission predicates and the rules built from them: no I/O, so they are tested as a full
// matrix. A route, page or action names a rule (`RULES.admin`, `RULES.publishTo(handle)`); one
// function, lib/http/authorize.ts, refuses and audits. No route writes a permission rule of its own,
// and middleware is never the only check.
import type { Principal, Role, TokenScope, UserPrincipal } from "./principal.ts";

const ROLE_LEVEL: Record<Role, number> = { viewer: 1, publisher: 2, admin: 3 };
const SCOPE_LEVEL: Record<TokenScope, number> = { read: 1, publish: 2, admin: 3 };

/** The highest scope a role may hold: a token is never above its owner's role. */
export function maxScopeForRole(role: Role): TokenScope {
  return role === "admin" ? "admin" : role === "publisher" ? "publish" : "read";
}

/** The role a CLI-created user gets for a requested token scope. */
export function roleForScope(scope: TokenScope): Role {
  return scope === "admin" ? "admin" : scope === "publish" ? "publisher" : "viewer";
}

export function scopeAllowedForRole(scope: TokenScope, role: Role): boolean {
  return SCOPE_LEVEL[scope] <= ROLE_LEVEL[role];
}

/** 0 anonymous, 1 read, 2 publish, 3 admin: the lower of the role and the token scope. */
export function effectiveLevel(p: Principal): number {
  if (p.kind === "anonymous") return 0;
  if (p.kind === "system") return ROLE_LEVEL.admin;
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

/**
 * The regular expression (source, anchored) of a handle glob: `*` within a segment, `**` across, `?`
 * one character; a trailing `/*` also covers deeper handles. Plain enough for JavaScript and
 * PostgreSQL's `~` alike, so a query can select the handles a pattern matches.
 */
export function handlePatternRegex(pattern: string): string {
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
  return `^${deep}$`;
}

/** Glob match of a handle against a namespace pattern (`*` within a segment, `**` across). */
export function handleMatches(pattern: string, handle: string): boolean {
  return new RegExp(handlePatternRegex(pattern)).test(handle.toLowerCase());
}

/** Uploads: admins anywhere; publishers only under a namespace an admin assigned them. */
export function canPublishTo(p: Principal, handle: string): boolean {
  if (effectiveLevel(p) < PERMISSION_LEVEL.publish || p.kind === "anonymous") return false;
  if (effectiveLevel(p) >= PERMISSION_LEVEL.admin) return true;
  return p.kind === "user" && p.namespaces.some((ns) => handleMatches(ns, handle));
}

/**
 * Creating an API token: any signed-in user, for a scope no higher than what the caller holds now
 * (a read-scoped token of an admin cannot mint an admin token).
 */
export function canCreateToken(p: Principal, scope: TokenScope): boolean {
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

/** Publishing at all (the upload screen): the publish level, whatever the namespace. */
export function canPublish(p: Principal): boolean {
  return effectiveLevel(p) >= PERMISSION_LEVEL.publish;
}

/** A mirror request: its requester, and admins. Others are told it does not exist. */
export function canSeeMirror(p: Principal, requestedById: string | null): boolean {
  return canAdminister(p) || (p.kind === "user" && requestedById !== null && requestedById === p.userId);
}

/** Whose mirror requests a listing shows: everyone's for admins (undefined), else the caller's own. */
export function mirrorListOwner(p: UserPrincipal): string | undefined {
  return canAdminister(p) ? undefined : p.userId;
}

/** Catalogue metadata: mirrored models are the admins'; uploaded ones their namespace's publishers'. */
export function canEditModel(p: Principal, handle: string, source: "upstream" | "upload" | null): boolean {
  return source === "upstream" ? canAdminister(p) : canPublishTo(p, handle);
}

/**
 * A permission rule: the permission a refusal names and the predicate that grants it. Rules that
 * only a signed-in user can pass narrow the principal (`Q`), so a handler needs no `kind` check.
 * `explain` adds why a signed-in caller is refused (a namespace, a scope).
 */
export type Rule<Q extends Principal = Principal> = {
  permission: Permission;
  allows: (p: Principal) => p is Q;
  explain?: (p: Principal) => string | undefined;
};

function rule<Q extends Principal = UserPrincipal>(
  permission: Permission,
  allows: (p: Principal) => boolean,
  explain?: Rule<Q>["explain"],
): Rule<Q> {
  return { permission, allows: allows as (p: Principal) => p is Q, ...(explain ? { explain } : {}) };
}

const user = (p: Principal): p is UserPrincipal => p.kind === "user";

/** Every rule a route, page or server action may name. */
export const RULES = {
  /** Approved models: signed-in callers, and anonymous ones when anonymous read is on. */
  readApproved: (opts: { anonymousRead: boolean }) => rule<Principal>("read", (p) => canReadApproved(p, opts)),
  /** Anything about the caller's own account (who am I, my mirror requests). */
  signedIn: rule("read", (p) => user(p) && effectiveLevel(p) >= 1),
  /** Listing and creating one's own tokens. */
  tokens: rule("token", (p) => user(p) && effectiveLevel(p) >= 1),
  createToken: (scope: TokenScope) =>
    rule(
      "token",
      (p) => canCreateToken(p, scope),
      (p) =>
        p.kind === "user"
          ? `a ${scope} token is above what you hold now (${p.role} role${p.scope ? `, ${p.scope} scope` : ""})`
          : undefined,
    ),
  manageToken: (ownerId: string | null) => rule("token", (p) => canManageToken(p, ownerId)),
  mirror: rule("mirror", (p) => user(p) && canRequestMirror(p)),
  publish: rule("publish", (p) => user(p) && canPublish(p)),
  publishTo: (handle: string) =>
    rule(
      "publish",
      (p) => user(p) && canPublishTo(p, handle),
      (p) =>
        p.kind === "user" && canPublish(p)
          ? `${handle} is outside your namespaces (${p.namespaces.join(", ") || "none assigned: ask an admin"})`
          : undefined,
    ),
  editModel: (handle: string, source: "upstream" | "upload" | null) =>
    rule(source === "upstream" ? "admin" : "publish", (p) => user(p) && canEditModel(p, handle, source)),
  approve: rule("approve", (p) => user(p) && canApprove(p)),
  revalidate: rule("approve", (p) => user(p) && canRevalidate(p)),
  admin: rule("admin", (p) => user(p) && canAdminister(p)),
} as const;
