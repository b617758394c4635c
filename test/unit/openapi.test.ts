// The OpenAPI document covers every JSON route: each method each route file exports is documented,
// and nothing documented lacks a route. Schemas are the ones the handlers parse with.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { OPERATIONS, openApiDocument } from "../../lib/http/openapi.ts";
import * as S from "../../lib/http/schemas.ts";
import { MODEL_ROUTES } from "../../lib/http/model-path.ts";
import { parseHubRequest } from "../../lib/hub/hub-path.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Route files and the methods they export, with their URL template (`[x]` -> `{x}`; catch-alls end in `/**`). */
function routes(): Array<{ file: string; template: string; methods: string[] }> {
  const out: Array<{ file: string; template: string; methods: string[] }> = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === "route.ts") {
        const rel = path.relative(path.join(ROOT, "app"), path.dirname(p)).split(path.sep);
        if (rel[0] === "api" && rel[1] === "auth") continue; // next-auth's own endpoints
        const template =
          "/" + rel.map((s) => (s.startsWith("[...") ? "**" : s.startsWith("[") ? `{${s.slice(1, -1)}}` : s)).join("/");
        const src = fs.readFileSync(p, "utf8");
        const methods = [
          ...src.matchAll(
            /export (?:const|async function|function) (GET|POST|PUT|PATCH|DELETE)\b|as (GET|POST|PUT|PATCH|DELETE)\b/g,
          ),
        ].map((m) => (m[1] ?? m[2])!.toLowerCase());
        out.push({ file: path.relative(ROOT, p), template, methods });
      }
    }
  };
  walk(path.join(ROOT, "app"));
  return out;
}

/**
 * The sub-routes of each catch-all route file ("METHOD template"), from the table the route itself
 * dispatches through. A catch-all without a table here fails the tests below.
 */
const CATCH_ALL_TABLES: Record<string, readonly string[]> = {
  "/api/v1/models/**": MODEL_ROUTES,
};

/** Every served "method path": file-system routes as they are, catch-alls expanded from their table. */
function served(): Array<{ method: string; path: string; file: string }> {
  return routes().flatMap((r) => {
    if (!r.template.endsWith("/**")) return r.methods.map((m) => ({ method: m, path: r.template, file: r.file }));
    const table = CATCH_ALL_TABLES[r.template];
    assert.ok(table, `${r.file} is a catch-all without a sub-route table in CATCH_ALL_TABLES`);
    return table.map((entry) => {
      const [method, path] = entry.split(" ") as [string, string];
      return { method: method.toLowerCase(), path, file: r.file };
    });
  });
}

test("each catch-all serves exactly its table: the methods it exports, each dispatched through the table", () => {
  for (const r of routes().filter((x) => x.template.endsWith("/**"))) {
    const table = CATCH_ALL_TABLES[r.template];
    assert.ok(table, `${r.file} is a catch-all without a sub-route table in CATCH_ALL_TABLES`);
    assert.deepEqual(
      new Set(r.methods),
      new Set(table.map((e) => e.split(" ")[0]!.toLowerCase())),
      `${r.file} exports the methods of its table`,
    );
    const src = fs.readFileSync(path.join(ROOT, r.file), "utf8");
    for (const m of r.methods)
      assert.match(
        src,
        new RegExp(`dispatchModelRoute\\("${m.toUpperCase()}"`),
        `${r.file}: ${m.toUpperCase()} dispatches through the table`,
      );
    for (const entry of table)
      assert.ok(entry.split(" ")[1]!.startsWith(r.template.slice(0, -3)), `${entry} lies under ${r.template}`);
  }
});

test("every route file's every method (and every catch-all sub-route) is in the OpenAPI document", () => {
  const found = routes();
  assert.ok(found.length >= 18, `found ${found.length} route files`);
  for (const r of found) assert.ok(r.methods.length > 0, `${r.file} exports no method`);
  const all = served();
  assert.ok(
    all.some((s) => s.method === "get" && s.path === "/api/v1/models/{handle}"),
    "the model document is served",
  );
  for (const s of all) {
    assert.ok(
      OPERATIONS.some((op) => op.method === s.method && op.path === s.path),
      `${s.method.toUpperCase()} ${s.path} (${s.file}) is not documented in lib/http/openapi.ts`,
    );
  }
});

test("every documented operation is served: by a route file, a catch-all's table, or the download handler", () => {
  const all = served();
  for (const op of OPERATIONS) {
    if (op.servedBy === "download-handler") {
      const sample = op.path.replace("{hex}", "0".repeat(64));
      assert.equal(op.method, "get");
      assert.equal(
        parseHubRequest(sample, "")?.kind,
        "blob",
        `${op.path}: the download handler does not serve ${sample}`,
      );
      continue;
    }
    assert.ok(
      all.some((s) => s.method === op.method && s.path === op.path),
      `${op.method.toUpperCase()} ${op.path} is documented but nothing serves it`,
    );
  }
});

test("the document is OpenAPI 3.1 with request schemas generated from the handlers' zod schemas", () => {
  const doc = openApiDocument("https://hub.example.com");
  assert.equal(doc.openapi, "3.1.0");
  const post = doc.paths["/api/v1/review/decisions"]!.post as {
    requestBody: {
      content: { "application/json": { schema: { properties: Record<string, unknown>; required: string[] } } };
    };
  };
  const schema = post.requestBody.content["application/json"].schema;
  assert.deepEqual(Object.keys(schema.properties).sort(), ["decision", "note", "overrideReason", "reason", "versions"]);
  // The same schema object the handler parses with rejects what the document says is required.
  assert.equal(S.decisionSchema.safeParse({ versions: [] }).success, false);
  assert.deepEqual(schema.required.sort(), ["decision", "versions"]);
  const search = doc.paths["/api/v1/models"]!.get as { parameters: Array<{ name: string; in: string }> };
  assert.deepEqual(search.parameters.map((p) => p.name).sort(), [
    "format",
    "license",
    "page",
    "pageSize",
    "publisher",
    "q",
    "sort",
    "status",
    "task",
  ]);
  const put = doc.paths["/api/v1/models/{handle}/versions/{n}"]!.put as {
    responses: Record<string, unknown>;
    requestBody: { content: Record<string, unknown> };
  };
  assert.ok(put.responses["413"] && put.responses["409"] && put.responses["422"] && put.responses["403"]);
  assert.ok(put.requestBody.content["application/octet-stream"]);
  // Every operation has a summary and responses; protected ones document 401.
  for (const [p, methods] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(
      methods as Record<string, { summary: string; responses: Record<string, unknown>; "x-hubkeep-access": string }>,
    )) {
      assert.ok(op.summary, `${m} ${p}`);
      if (op["x-hubkeep-access"] !== "anyone") assert.ok(op.responses["401"], `${m} ${p} documents 401`);
    }
  }
});
