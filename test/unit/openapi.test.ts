// The OpenAPI document covers every JSON route: each method each route file exports is documented,
// and nothing documented lacks a route. Schemas are the ones the handlers parse with.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { OPERATIONS, openApiDocument } from "../../lib/http/openapi.ts";
import * as S from "../../lib/http/schemas.ts";

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
        const template = "/" + rel.map((s) => (s.startsWith("[...") ? "**" : s.startsWith("[") ? `{${s.slice(1, -1)}}` : s)).join("/");
        const src = fs.readFileSync(p, "utf8");
        const methods = [...src.matchAll(/export (?:const|async function|function) (GET|POST|PUT|PATCH|DELETE)\b|as (GET|POST|PUT|PATCH|DELETE)\b/g)].map((m) => (m[1] ?? m[2])!.toLowerCase());
        out.push({ file: path.relative(ROOT, p), template, methods });
      }
    }
  };
  walk(path.join(ROOT, "app"));
  return out;
}

const matches = (template: string, docPath: string) => {
  if (template.endsWith("/**")) return docPath.startsWith(template.slice(0, -3).replace(/\/models$/, "/models/{handle}").replace(/\/\{handle\}$/, "/{handle}"));
  return docPath === template;
};

test("every route file's every method is in the OpenAPI document", () => {
  const found = routes();
  assert.ok(found.length >= 18, `found ${found.length} route files`);
  for (const r of found) {
    assert.ok(r.methods.length > 0, `${r.file} exports no method`);
    for (const m of r.methods) {
      assert.ok(
        OPERATIONS.some((op) => op.method === m && matches(r.template, op.path)),
        `${m.toUpperCase()} ${r.template} (${r.file}) is not documented in lib/http/openapi.ts`,
      );
    }
  }
});

test("every documented operation has a route that exports its method", () => {
  const found = routes();
  for (const op of OPERATIONS) {
    assert.ok(
      found.some((r) => r.methods.includes(op.method) && matches(r.template, op.path)),
      `${op.method.toUpperCase()} ${op.path} is documented but no route file serves it`,
    );
  }
});

test("the document is OpenAPI 3.1 with request schemas generated from the handlers' zod schemas", () => {
  const doc = openApiDocument("https://hub.example.com");
  assert.equal(doc.openapi, "3.1.0");
  const post = doc.paths["/api/v1/review/decisions"]!.post as { requestBody: { content: { "application/json": { schema: { properties: Record<string, unknown>; required: string[] } } } } };
  const schema = post.requestBody.content["application/json"].schema;
  assert.deepEqual(Object.keys(schema.properties).sort(), ["decision", "note", "overrideReason", "reason", "versions"]);
  // The same schema object the handler parses with rejects what the document says is required.
  assert.equal(S.decisionSchema.safeParse({ versions: [] }).success, false);
  assert.deepEqual(schema.required.sort(), ["decision", "versions"]);
  const search = doc.paths["/api/v1/models"]!.get as { parameters: Array<{ name: string; in: string }> };
  assert.deepEqual(search.parameters.map((p) => p.name).sort(), ["format", "license", "page", "pageSize", "publisher", "q", "sort", "status", "task"]);
  const put = doc.paths["/api/v1/models/{handle}/versions/{n}"]!.put as { responses: Record<string, unknown>; requestBody: { content: Record<string, unknown> } };
  assert.ok(put.responses["413"] && put.responses["409"] && put.responses["422"] && put.responses["403"]);
  assert.ok(put.requestBody.content["application/octet-stream"]);
  // Every operation has a summary and responses; protected ones document 401.
  for (const [p, methods] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(methods as Record<string, { summary: string; responses: Record<string, unknown>; "x-hubkeep-access": string }>)) {
      assert.ok(op.summary, `${m} ${p}`);
      if (op["x-hubkeep-access"] !== "anyone") assert.ok(op.responses["401"], `${m} ${p} documents 401`);
    }
  }
});
