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

/** The IPv4 address embedded in a v4-mapped (::ffff:a.b.c.d), v4-compatible or NAT64 IPv6 address. */
function embeddedV4(v6: string): string | null {
  const lower = v6.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1]!;
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  // Fully expanded forms: 0:0:0:0:0:ffff:7f00:1
  const full = /^0{1,4}:0{1,4}:0{1,4}:0{1,4}:0{1,4}:ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (full) {
    const hi = parseInt(full[1]!, 16);
    const lo = parseInt(full[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
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
