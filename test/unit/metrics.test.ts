// Route templates are what the `route` label says: bounded by the code, never a raw path or handle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { routeTemplate } from "../../lib/metrics.ts";

test("route templates name the route, never the handle, id or file", () => {
  const cases: Array<[string, string]> = [
    ["/", "/"],
    ["/metrics", "/metrics"],
    ["/readyz", "/readyz"],
    ["/healthz", "/healthz"],
    ["/admin", "/admin"],
    ["/admin/users", "/admin/users"],
    ["/admin/nope", "/admin/{unknown}"],
    ["/tokens", "/tokens"],
    ["/_next/static/chunks/abc.js", "/_next/{asset}"],
    ["/api/auth/callback/oidc", "/api/auth/{nextauth}"],
    ["/api/v1/models", "/api/v1/models"],
    ["/api/v1/models/google/x/y", "/api/v1/models/{handle}"],
    ["/api/v1/models/google/x/y/versions/5", "/api/v1/models/{handle}/versions/{n}"],
    ["/api/v1/models/google/x/y/versions/5/approve", "/api/v1/models/{handle}/versions/{n}/approve"],
    ["/api/v1/models/google/x/versions/0123", "/api/v1/models/{invalid}"],
    ["/api/v1/tokens/ck123", "/api/v1/tokens/{id}"],
    ["/api/v1/mirrors/m1/resync", "/api/v1/mirrors/{id}/resync"],
    ["/api/v1/allowlist/preview", "/api/v1/allowlist/preview"],
    ["/api/v1/blobs/sha256:" + "a".repeat(64), "/api/v1/blobs/{digest}"],
    ["/api/v1/nothing-here", "/api/v1/{unknown}"],
    ["/google/imagenet/mobilenet_v2/5", "/{handle}/{n}"],
    ["/google/imagenet/mobilenet_v2", "/{handle}"],
    ["/google/tfjs-model/x/3/model.json", "/{handle}/{n}/{file}"],
    ["/google/tfjs-model/x/3/group1-shard1of2.bin", "/{handle}/{n}/{file}"],
    ["/favicon.ico", "/{unknown}"],
  ];
  for (const [p, want] of cases) assert.equal(routeTemplate(p), want, p);
});

test("200 distinct handles give one template", () => {
  const seen = new Set(Array.from({ length: 200 }, (_, i) => routeTemplate(`/org${i}/model-${i}/${i + 1}`)));
  assert.deepEqual([...seen], ["/{handle}/{n}"]);
});
