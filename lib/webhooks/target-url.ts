// Where a webhook may deliver: an absolute http(s) URL. Loopback and private addresses are allowed
// (receivers are often on the same host or network); the cloud metadata address 169.254.169.254 (in
// any spelling: decimal, hex, IPv4-mapped IPv6) and the unspecified addresses never are. The
// classification is the upstream fetcher's (lib/upstream/address-policy.ts, with private addresses
// allowed); it is applied to the URL when a webhook is created, to what its host name resolves to
// then, and again in the sender's DNS lookup and connect hook, so a name that later resolves to
// the metadata address is refused before any packet is sent.
import dns from "node:dns";
import net from "node:net";
import { checkAddress } from "../upstream/address-policy.ts";

export type ResolvedAddress = { address: string; family: number };
/** Resolves a host name to every address it has (dns.lookup with `all`, or a test's table). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/**
 * Why a webhook may not connect to `address` (an IP), or null when it may: the fetcher's policy with
 * private addresses allowed (it unwraps every IPv6 spelling of an IPv4 address itself).
 */
export function refusedAddressReason(address: string): string | null {
  const verdict = checkAddress(address, { allowPrivate: true });
  return verdict.allowed ? null : verdict.reason;
}

/** The URL's host without IPv6 brackets: an IP literal or a name. */
export function targetHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "");
}

/**
 * Checks a target URL's syntax and, for an IP literal, its address. Returns the normalised URL or
 * the reason it is refused (a sentence naming the problem).
 */
export function parseTargetUrl(raw: string): { url: URL } | { reason: string } {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { reason: `"${raw.slice(0, 200)}" is not an absolute URL` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return { reason: `only http and https URLs can receive webhooks, not ${url.protocol}` };
  if (url.username || url.password)
    return { reason: "the URL must not carry credentials: receivers authenticate Hubkeep by the signature" };
  if (!url.hostname) return { reason: "the URL has no host" };
  // WHATWG URL parsing has already turned 2852039166, 0xa9fea9fe, 0251.0376.0251.0376 and
  // [::ffff:169.254.169.254] into canonical IP literals.
  const host = targetHost(url);
  if (net.isIP(host)) {
    const why = refusedAddressReason(host);
    if (why) return { reason: why };
  }
  url.hash = "";
  return { url };
}

/**
 * Checks what a host name resolves to now: the reason when any of its addresses is refused, else
 * null. A name that does not resolve (yet) is not refused here: the sender checks again at connect.
 */
export async function checkResolvedHost(
  url: URL,
  resolve: Resolver = systemResolver,
  timeoutMs = 3000,
): Promise<string | null> {
  const host = targetHost(url);
  if (net.isIP(host)) return null;
  let timer: NodeJS.Timeout | undefined;
  const addresses = await Promise.race([
    resolve(host).catch(() => [] as ResolvedAddress[]),
    new Promise<ResolvedAddress[]>((r) => (timer = setTimeout(() => r([]), timeoutMs))),
  ]).finally(() => clearTimeout(timer));
  for (const a of addresses) {
    const why = refusedAddressReason(a.address);
    if (why) return `${host} resolves to ${a.address}: ${why}`;
  }
  return null;
}
