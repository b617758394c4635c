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

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail included), or null. */
function ipv6Groups(address: string): number[] | null {
  if (!net.isIPv6(address)) return null;
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split(".").map(Number) as [number, number, number, number];
    text = `${text.slice(0, -dotted[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const parts = (s: string | undefined) => (s ? s.split(":").map((h) => parseInt(h, 16)) : []);
  const left = parts(head);
  const right = parts(tail);
  const groups =
    tail === undefined ? left : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  return groups.length === 8 ? groups : null;
}

/**
 * The IPv4 address inside the IPv6 spellings address-policy.ts does not unwrap: IPv4-compatible
 * (::a.b.c.d) and IPv4-translated (::ffff:0:a.b.c.d). `[::169.254.169.254]` is the metadata address too.
 */
function compatibleV4(address: string): string | null {
  const g = ipv6Groups(address);
  if (!g) return null;
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  const compatible = zeros(6) && (g[6] !== 0 || g[7]! > 1);
  const translated = zeros(4) && g[4] === 0xffff && g[5] === 0;
  if (!compatible && !translated) return null;
  return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
}

/** Why a webhook may not connect to `address` (an IP), or null when it may. */
export function refusedAddressReason(address: string): string | null {
  const verdict = checkAddress(address, { allowPrivate: true });
  if (!verdict.allowed) return verdict.reason;
  const inner = compatibleV4(address);
  const innerVerdict = inner ? checkAddress(inner, { allowPrivate: true }) : null;
  return innerVerdict && !innerVerdict.allowed ? `${innerVerdict.reason} (as ${address})` : null;
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
