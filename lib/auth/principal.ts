// Who is calling. Route handlers resolve a Principal first (lib/http/authenticate.ts), then ask a
// pure predicate in ./permissions.ts.
export type RoleName = "viewer" | "publisher" | "admin";
export type ScopeName = "read" | "publish" | "admin";

export type UserPrincipal = {
  kind: "user";
  userId: string;
  email: string;
  role: RoleName;
  /** The API token's scope; null for a signed-in session (full role). */
  scope: ScopeName | null;
  via: "token" | "session" | "cli";
  tokenId?: string;
  /** Handle patterns this publisher may upload under. */
  namespaces: string[];
};

export type AnonymousPrincipal = { kind: "anonymous" };

export type Principal = UserPrincipal | AnonymousPrincipal;

export const ANONYMOUS: AnonymousPrincipal = { kind: "anonymous" };
