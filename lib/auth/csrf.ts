// Cross-site request refusal for cookie-authenticated mutations. Bearer-token requests are not
// exposed to CSRF (a browser never attaches them by itself), so only session callers are checked.
// Pure: takes the header values, returns a refusal reason or null.

export type OriginHeaders = { get(name: string): string | null };

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function isMutating(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

/** The origins a same-origin request may carry: the public URL's, and the Host the request came to. */
export function allowedOrigins(headers: OriginHeaders, publicUrl: string): Set<string> {
  const out = new Set<string>([new URL(publicUrl).origin]);
  const host = headers.get("host");
  if (host) {
    const proto = new URL(publicUrl).protocol;
    out.add(`${proto}//${host}`.toLowerCase());
  }
  return out;
}

/**
 * Why a cookie-authenticated mutating request must be refused, or null when it is same-origin.
 * `Sec-Fetch-Site` (sent by every current browser) must be `same-origin`; failing that, `Origin`
 * must be one of ours. `Origin: null` (sandboxed frames, data: URLs, some redirects) is refused,
 * and so is a request carrying neither header.
 */
export function crossSiteRefusal(headers: OriginHeaders, publicUrl: string): string | null {
  const site = headers.get("sec-fetch-site")?.toLowerCase();
  const origin = headers.get("origin");
  if (site !== undefined && site !== "same-origin") return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  if (origin === null) {
    return site === "same-origin" ? null : "cross-site request refused: no Origin or Sec-Fetch-Site header";
  }
  if (origin.trim().toLowerCase() === "null") return "cross-site request refused (Origin: null)";
  let normalised: string;
  try {
    normalised = new URL(origin).origin.toLowerCase();
  } catch {
    return `cross-site request refused (Origin: ${origin.slice(0, 100)})`;
  }
  if (!allowedOrigins(headers, publicUrl).has(normalised)) return `cross-site request refused (Origin: ${normalised})`;
  return null;
}
