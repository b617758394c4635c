import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseHubRequest } from "../../lib/hub/hub-path.ts";
import { PROJECT_DIR, readReservedSegments } from "../../lib/hub/reserved-segments.ts";
import { formatContentDisposition } from "../../lib/hub/content-disposition.ts";

const ROUTE_FILE = /^(page|route)\.(js|jsx|ts|tsx|md|mdx)$/;

function routesBelow(dir: string): boolean {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .some((e) =>
      e.isFile()
        ? ROUTE_FILE.test(e.name)
        : e.isDirectory() && !e.name.startsWith("_") && routesBelow(path.join(dir, e.name)),
    );
}

test("every top-level app/ folder that Next routes is never read as a handle", () => {
  const appDir = path.join(PROJECT_DIR, "app");
  const routed = fs
    .readdirSync(appDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !/^[[(_@]/.test(e.name) && routesBelow(path.join(appDir, e.name)))
    .map((e) => e.name);
  assert.ok(routed.includes("api") && routed.includes("admin"), `app/ was read: ${routed}`);
  for (const name of [...routed, "_next"]) {
    assert.equal(
      parseHubRequest(`/${name}/x/1`, "tf-hub-format=compressed"),
      null,
      `/${name}/... is the web app's, not a download`,
    );
    assert.equal(parseHubRequest(`/${name}/x/1/model.json`, ""), null, `/${name}/.../model.json is the web app's`);
  }
  assert.equal(parseHubRequest("/google/x/1", "tf-hub-format=compressed")?.kind, "archive");
});

test("reserved segments follow Next's routing of the app/ tree", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-reserved-"));
  try {
    const put = (rel: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), "");
    };
    put("app/page.tsx");
    put("app/layout.tsx");
    put("app/globals.css");
    put("app/favicon.ico");
    put("app/reports/page.tsx");
    put("app/deep/a/b/route.ts");
    put("app/(marketing)/about/page.tsx");
    put("app/[...slug]/page.tsx");
    put("app/_private/x/page.tsx");
    put("app/ui/button.tsx");
    put("app/hidden/_parts/page.tsx");
    put("public/static/logo.png");
    assert.deepEqual([...readReservedSegments(dir)].sort(), [
      "_next",
      "about",
      "deep",
      "favicon.ico",
      "reports",
      "static",
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("bad download requests carry a bad_request AppError", () => {
  for (const [p, q] of [
    ["/google/x/1", "tf-hub-format=zip"],
    ["/google/x/1", "lite-format=x"],
    ["/google/x/1", "tfjs-format=x"],
    ["/api/v1/blobs/sha256:abc", ""],
  ] as const) {
    const r = parseHubRequest(p, q);
    assert.equal(r?.kind, "bad", `${p}?${q}`);
    assert.equal(r?.kind === "bad" ? r.error.status : 0, 400);
  }
});

test("one Content-Disposition for streamed and redirected downloads", () => {
  assert.equal(
    formatContentDisposition("attachment", "half_plus_two_1.tar.gz"),
    'attachment; filename="half_plus_two_1.tar.gz"',
  );
  assert.equal(formatContentDisposition("inline", "model.json"), 'inline; filename="model.json"');
  assert.equal(formatContentDisposition("attachment", "model v1.tar.gz"), 'attachment; filename="model v1.tar.gz"');
  assert.equal(
    formatContentDisposition("attachment", 'modèle "1".tgz'),
    `attachment; filename="mod_le _1_.tgz"; filename*=UTF-8''mod%C3%A8le%20%221%22.tgz`,
  );
  assert.equal(formatContentDisposition("attachment", "it's (1).bin"), `attachment; filename="it's (1).bin"`);
  assert.equal(formatContentDisposition("attachment", "a/b"), `attachment; filename="a_b"; filename*=UTF-8''a%2Fb`);
});
