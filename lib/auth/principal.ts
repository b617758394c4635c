// Who is calling. Route handlers resolve a Principal first (lib/http/authenticate.ts), then name a
// rule of ./permissions.ts, which lib/http/authorize.ts enforces. Roles and scopes are Prisma's enums.
import { Role, TokenScope } from "../db/generated/enums.ts";

export { Role, TokenScope };

/** Every role and scope, lowest first (the schema's order). */
export const ROLES = Object.values(Role) as [Role, ...Role[]];
export const SCOPES = Object.values(TokenScope) as [TokenScope, ...TokenScope[]];

export type UserPrincipal = {
  kind: "user";
  userId: string;
  email: string;
  role: Role;
  /** The API token's scope; null for a signed-in session (full role). */
  scope: TokenScope | null;
  via: "token" | "session";
  tokenId?: string;
  /** Handle patterns this publisher may upload under. */
  namespaces: string[];
};

export type AnonymousPrincipal = { kind: "anonymous" };

/**
 * Hubkeep itself acting from the operator's shell (`hubkeep token create`, `user create`, `gc`):
 * trusted as an admin, never a user row. It is recorded as an actor by name, not as a user id.
 */
export type SystemPrincipal = { kind: "system"; name: "cli" };

export type Principal = UserPrincipal | AnonymousPrincipal | SystemPrincipal;

export const ANONYMOUS: AnonymousPrincipal = { kind: "anonymous" };
export const CLI: SystemPrincipal = { kind: "system", name: "cli" };

/** The user id to record as the actor of a change: null for anyone who is not a signed-in user. */
export function actorUserId(p: Principal | null | undefined): string | null {
  return p?.kind === "user" ? p.userId : null;
}

/** A signed-in session's principal: the user's full role, no token scope. */
export function principalOfSession(
  user: { id: string; email: string; role: Role },
  namespaces: string[] = [],
): UserPrincipal {
  return { kind: "user", userId: user.id, email: user.email, role: user.role, scope: null, via: "session", namespaces };
}

export function isUser(p: Principal): p is UserPrincipal {
  return p.kind === "user";
}
