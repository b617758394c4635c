import { test } from "node:test";
import assert from "node:assert/strict";
import { crossSiteRefusal, isMutating } from "../../lib/auth/csrf.ts";

const PUBLIC = "https://hub.example.com";
const h = (o: Record<string, string>) => new Headers(o);

test("same-origin requests pass: by Sec-Fetch-Site, by the public URL's origin, or by the Host's", () => {
  assert.equal(crossSiteRefusal(h({ "sec-fetch-site": "same-origin" }), PUBLIC), null);
  assert.equal(crossSiteRefusal(h({ origin: "https://hub.example.com" }), PUBLIC), null);
  assert.equal(crossSiteRefusal(h({ origin: "https://HUB.example.com:443" }), PUBLIC), null);
  assert.equal(
    crossSiteRefusal(h({ origin: "https://mirror.internal:8443", host: "mirror.internal:8443" }), PUBLIC),
    null,
  );
  assert.equal(
    crossSiteRefusal(h({ origin: "https://hub.example.com", "sec-fetch-site": "same-origin" }), PUBLIC),
    null,
  );
});

test("cross-site, null, missing and look-alike origins are refused, naming why", () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{}, /no Origin or Sec-Fetch-Site/],
    [{ origin: "null" }, /Origin: null/],
    [{ origin: "https://evil.example" }, /Origin: https:\/\/evil\.example/],
    [{ origin: "https://hub.example.com.evil.example" }, /evil/],
    [{ origin: "http://hub.example.com" }, /Origin: http:\/\/hub\.example\.com/],
    [{ origin: "not a url" }, /Origin: not a url/],
    [{ "sec-fetch-site": "cross-site", origin: "https://hub.example.com" }, /Sec-Fetch-Site: cross-site/],
    [{ "sec-fetch-site": "same-site" }, /Sec-Fetch-Site: same-site/],
    [{ "sec-fetch-site": "none" }, /Sec-Fetch-Site: none/],
    [{ origin: "https://evil.example", host: "hub.example.com" }, /evil/],
  ];
  for (const [headers, why] of cases) {
    const r = crossSiteRefusal(h(headers), PUBLIC);
    assert.ok(r, JSON.stringify(headers));
    assert.match(r, /^cross-site request refused/);
    assert.match(r, why, JSON.stringify(headers));
  }
});

test("only unsafe methods are mutating", () => {
  for (const m of ["GET", "HEAD", "OPTIONS", "get"]) assert.equal(isMutating(m), false, m);
  for (const m of ["POST", "PUT", "PATCH", "DELETE", "post"]) assert.equal(isMutating(m), true, m);
});
