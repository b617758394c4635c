// Which IP addresses an upstream fetch may connect to. Decided where addresses are decided: in the
// fetcher's DNS lookup and connect hook (so DNS rebinding is covered), never from the URL alone.
import net from "node:net";

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

// Never reachable, whatever HUBKEEP_ALLOW_PRIVATE_UPSTREAM says: cloud metadata services and the
// unspecified addresses (connecting to 0.0.0.0 or :: reaches the local host).
const ALWAYS_DENIED = new Set(["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "0.0.0.0", "::"]);

const V4_BLOCKS: Array<[string, number, string]> = [
  ["0.0.0.0", 8, "reserved"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "carrier-grade NAT"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "documentation"],
  ["192.88.99.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];

const V6_BLOCKS: Array<[string, number, string]> = [
  ["::1", 128, "loopback"],
  ["::", 128, "unspecified"],
  ["100::", 64, "discard"],
  ["2001:db8::", 32, "documentation"],
  ["2001::", 23, "reserved"],
  ["fc00::", 7, "private (unique local)"],
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "site-local"],
  ["ff00::", 8, "multicast"],
];

type Block = { b: net.BlockList; family: "ipv4" | "ipv6"; why: string };
const toBlock =
  (family: "ipv4" | "ipv6") =>
  ([a, p, why]: [string, number, string]): Block => {
    const b = new net.BlockList();
    b.addSubnet(a, p, family);
    return { b, family, why };
  };
const lists: Block[] = [...V4_BLOCKS.map(toBlock("ipv4")), ...V6_BLOCKS.map(toBlock("ipv6"))];

/** An IPv6 address as its eight 16-bit groups (a trailing dotted quad included); null if malformed. */
function groupsOf(v6: string): number[] | null {
  let text = v6
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .split("%")[0]!;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (h: string) => (h === "" ? [] : h.split(":").map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<number>(Math.max(0, fill)).fill(0), ...tail];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/**
 * The IPv4 address embedded in an IPv6 one, in any spelling: v4-mapped (::ffff:a.b.c.d, and its hex
 * form ::ffff:a9fe:a9fe), v4-compatible (::a.b.c.d, ::a9fe:a9fe), SIIT (::ffff:0:a.b.c.d) and
 * NAT64 (64:ff9b::/96, 64:ff9b:1::/48).
 */
function embeddedV4(v6: string): string | null {
  const g = groupsOf(v6);
  if (!g) return null;
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const v4 = () => `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  if (zero(0, 5) && g[5] === 0xffff) return v4(); // ::ffff:a.b.c.d
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return v4(); // ::ffff:0:a.b.c.d
  if (zero(0, 6) && g[6] !== 0) return v4(); // ::a.b.c.d (not ::1 or ::)
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return v4(); // 64:ff9b::a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return v4(); // 64:ff9b:1::/48
  return null;
}

/** Classifies an address: null for a public unicast address, else why it is special. */
export function specialAddressReason(address: string): string | null {
  const family = net.isIP(address);
  if (family === 0) return "not an IP address";
  if (family === 6) {
    const v4 = embeddedV4(address);
    if (v4 && v4 !== "0.0.0.0") {
      const inner = specialAddressReason(v4);
      return inner ? `${inner} (IPv4 inside IPv6)` : null;
    }
  }
  for (const { b, family: f, why } of lists) {
    if ((family === 4) === (f === "ipv4") && b.check(address, f)) return why;
  }
  return null;
}

function normalise(address: string): string {
  const family = net.isIP(address);
  if (family === 6) {
    const v4 = embeddedV4(address);
    if (v4) return v4;
  }
  return address.toLowerCase();
}

/** May an upstream connection go to `address`? */
export function checkAddress(address: string, opts: { allowPrivate: boolean }): AddressVerdict {
  const n = normalise(address);
  if (ALWAYS_DENIED.has(n) || ALWAYS_DENIED.has(address.toLowerCase())) {
    return { allowed: false, reason: `address ${address} is a cloud metadata or unspecified address: refused` };
  }
  const why = specialAddressReason(address);
  if (why === "not an IP address") return { allowed: false, reason: `"${address}" is not an IP address` };
  if (why && !opts.allowPrivate)
    return { allowed: false, reason: `redirect to a private address refused: ${address} is ${why}` };
  return { allowed: true };
}
