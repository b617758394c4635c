// Resolves the caller of a request: `Authorization: Bearer hk_…` (API, CLI, downloads), or the UI's
// session cookie. Nothing here trusts middleware headers (`x-middleware-subrequest` and friends).
import { AppError } from "../errors.ts";
import { getEnv } from "../env.ts";
import { authenticateApiToken } from "../auth/tokens.ts";
import { sessionPrincipal } from "../auth/session.ts";
import { ANONYMOUS, type Principal } from "../auth/principal.ts";
import { setRequestPrincipal } from "../log.ts";

/** Set by the server entry (lib/server/main.ts) from the socket; any incoming copy is dropped. */
export const PEER_HEADER = "x-hubkeep-peer";

type HeaderGetter = { get(name: string): string | null };

/**
 * The caller's address for the audit log: the socket peer, or with HUBKEEP_TRUST_PROXY the first
 * `X-Forwarded-For` hop (only behind a proxy that sets it; otherwise clients could forge it).
 */
export function peerIp(headers: HeaderGetter): string | null {
  if (getEnv().trustProxy) {
    const fwd = headers.get("x-forwarded-for");
    if (fwd) return fwd.split(",")[0]!.trim().slice(0, 64);
  }
  return headers.get(PEER_HEADER);
}

export function clientIp(req: Request): string | null {
  return peerIp(req.headers);
}

/**
 * The request's principal: a token user, a session user, or anonymous when neither is sent. Its
 * user id goes into the request's log line (lib/log.ts).
 */
export async function authenticateRequest(req: Request): Promise<Principal> {
  const principal = await resolvePrincipal(req);
  setRequestPrincipal(principal.kind === "user" ? principal.userId : null);
  return principal;
}

async function resolvePrincipal(req: Request): Promise<Principal> {
  const header = req.headers.get("authorization");
  if (!header) return (await sessionPrincipal(req.headers.get("cookie"))) ?? ANONYMOUS;
  const [scheme, ...rest] = header.trim().split(/\s+/);
  const value = rest.join(" ");
  if (scheme?.toLowerCase() === "bearer" && value) return authenticateApiToken(value, clientIp(req));
  if (scheme?.toLowerCase() === "basic" && value) {
    // netrc-style clients (tensorflow_hub through urllib) can send the token as the password.
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const password = decoded.slice(decoded.indexOf(":") + 1);
    return authenticateApiToken(password, clientIp(req));
  }
  throw new AppError("unauthorized", "unsupported Authorization scheme: use Bearer <token>");
}
