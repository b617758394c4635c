// The address decisions the fetcher's lookup/connect hook makes. Pure: nothing is contacted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkAddress, specialAddressReason } from "../../lib/upstream/address-policy.ts";

const refused = [
  "127.0.0.1",
  "127.1.2.3",
  "10.0.0.1",
  "172.16.5.4",
  "172.31.255.255",
  "192.168.1.1",
  "100.64.0.1",
  "100.127.255.254",
  "169.254.1.1",
  "169.254.169.254",
  "0.0.0.0",
  "0.1.2.3",
  "224.0.0.1",
  "239.255.255.250",
  "240.0.0.1",
  "255.255.255.255",
  "192.0.2.10",
  "198.18.0.1",
  "198.51.100.7",
  "203.0.113.9",
  "::1",
  "::",
  "fe80::1",
  "fc00::1",
  "fd12:3456::1",
  "ff02::1",
  "2001:db8::1",
  "fec0::1",
  "::ffff:127.0.0.1",
  "::ffff:7f00:1",
  "::ffff:169.254.169.254",
  "::ffff:a9fe:a9fe",
  "::ffff:10.1.2.3",
  "64:ff9b::10.0.0.1",
  "0:0:0:0:0:ffff:7f00:1",
  "fd00:ec2::254",
];
const publicAddrs = [
  "8.8.8.8",
  "142.250.74.46",
  "172.32.0.1",
  "100.128.0.1",
  "2607:f8b0:4005:80a::200e",
  "::ffff:8.8.8.8",
];

test("private, loopback, link-local, CGNAT, multicast and reserved addresses are refused (v4, v6, v4-mapped)", () => {
  for (const a of refused) {
    const v = checkAddress(a, { allowPrivate: false });
    assert.equal(v.allowed, false, a);
  }
  for (const a of publicAddrs) assert.deepEqual(checkAddress(a, { allowPrivate: false }), { allowed: true }, a);
});

test("the refusal names the reason", () => {
  const v = checkAddress("10.1.2.3", { allowPrivate: false });
  assert.equal(!v.allowed && v.reason, "redirect to a private address refused: 10.1.2.3 is private");
  const m = checkAddress("::ffff:192.168.0.1", { allowPrivate: false });
  assert.match(!m.allowed ? m.reason : "", /private \(IPv4 inside IPv6\)/);
  assert.equal(specialAddressReason("127.0.0.1"), "loopback");
});

test("HUBKEEP_ALLOW_PRIVATE_UPSTREAM opens private ranges but never the metadata address", () => {
  for (const a of ["127.0.0.1", "::1", "10.0.0.1", "192.168.1.1"])
    assert.equal(checkAddress(a, { allowPrivate: true }).allowed, true, a);
  for (const a of ["169.254.169.254", "::ffff:169.254.169.254", "::ffff:a9fe:a9fe", "fd00:ec2::254", "0.0.0.0", "::"]) {
    const v = checkAddress(a, { allowPrivate: true });
    assert.equal(v.allowed, false, a);
    assert.match(!v.allowed ? v.reason : "", /metadata|unspecified/);
  }
});

test("the metadata address in every IPv6 spelling is refused even with private upstreams allowed", () => {
  for (const a of [
    "::169.254.169.254", // v4-compatible, dotted
    "::a9fe:a9fe", // v4-compatible, hex (what URL parsing makes of [::169.254.169.254])
    "::ffff:0:169.254.169.254", // SIIT
    "::ffff:0:a9fe:a9fe",
    "0:0:0:0:0:ffff:a9fe:a9fe",
    "64:ff9b::a9fe:a9fe", // NAT64
    "64:ff9b:1::a9fe:a9fe",
  ]) {
    const v = checkAddress(a, { allowPrivate: true });
    assert.equal(v.allowed, false, a);
    assert.match(!v.allowed ? v.reason : "", /metadata/, a);
  }
  // Not every v6 address with zeros is a v4 one: ::1 stays loopback, public v6 stays public.
  assert.equal(specialAddressReason("::1"), "loopback");
  assert.equal(checkAddress("2606:4700::1111", { allowPrivate: false }).allowed, true);
  assert.equal(checkAddress("::ffff:1.1.1.1", { allowPrivate: false }).allowed, true);
});
