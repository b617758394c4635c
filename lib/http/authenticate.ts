// Resolves the caller of a request. API, CLI and downloads use `Authorization: Bearer hk_…`; the UI's
// session cookie joins here with the accounts work. Nothing here trusts middleware headers.
import { AppError } from "../errors.ts";
import { authenticateApiToken } from "../auth/tokens.ts";
import { ANONYMOUS, type Principal } from "../auth/principal.ts";

export function clientIp(req: Request): string | null {
  const fwd = req.headers.get("x-forwarded-for");
  return fwd ? fwd.split(",")[0]!.trim() : (req.headers.get("x-real-ip") ?? null);
}

/** The request's principal: a token user, or anonymous when no credentials are sent. */
export async function authenticateRequest(req: Request): Promise<Principal> {
  const header = req.headers.get("authorization");
  if (!header) return ANONYMOUS;
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
