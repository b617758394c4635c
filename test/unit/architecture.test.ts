// The tree's structural rules, checked over the source so a change that breaks one fails here:
// Prisma is called only from lib/db/, lib/models/ and lib/auth/ (its own tables); routes, pages and
// server actions name permission rules instead of writing their own; the vocabularies (formats,
// roles, scopes, statuses) are declared once, in prisma/schema.prisma.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== "generated" && e.name !== "node_modules") walk(p);
      } else if (/\.(ts|tsx|mjs)$/.test(e.name)) out.push(p);
    }
  };
  walk(path.join(ROOT, dir));
  return out;
}

const rel = (p: string) => path.relative(ROOT, p).split(path.sep).join("/");
const code = [...sources("lib"), ...sources("app")].map((p) => ({ file: rel(p), text: fs.readFileSync(p, "utf8") }));

/** Lines of `text` matching `re`, as "file:line: text". */
function hits(file: string, text: string, re: RegExp): string[] {
  return text.split("\n").flatMap((line, i) => (re.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : []));
}

test("Prisma is called only from lib/db/, lib/models/ and lib/auth/", () => {
  const allowed = /^lib\/(db|models|auth)\//;
  // A runtime import of the client or of the accessors that hand it out, or a call on it.
  const uses = [
    /^import\s+(?!type\b)[^;]*\bfrom\s+["'][./@a-z]*db\/generated\/client(\.ts)?["']/,
    /^import\s+(?!type\b)\{[^}]*\b(db|getDatabase)\b[^}]*\}\s+from\s+["'][./@a-z]*db\/client(\.ts)?["']/,
    /\bprisma\.(\$?[a-zA-Z]+)\b/,
    /\.\$(queryRaw|queryRawUnsafe|executeRaw|executeRawUnsafe|transaction)\b/,
    /import\(["'][./@a-z]*db\/client(\.ts)?["']\)/,
  ];
  const found = code
    .filter((f) => !allowed.test(f.file))
    .flatMap((f) => uses.flatMap((re) => hits(f.file, f.text, re)));
  assert.deepEqual(found, [], `Prisma used outside lib/db, lib/models and lib/auth:\n${found.join("\n")}`);
});

test("routes, pages and server actions name permission rules; none writes its own", () => {
  const edge = code.filter((f) => f.file.startsWith("app/"));
  const inline = [
    /effectiveLevel\(/,
    /\.kind\s*[!=]==\s*"(user|anonymous|system)"/,
    /\brequestedById\s*===/,
    /\.role\s*[!=]==\s*"(viewer|publisher|admin)"/,
    /recordAudit\(\{[^}]*denied/,
    /throw new Error\("unreachable"\)/,
  ];
  const found = edge.flatMap((f) => inline.flatMap((re) => hits(f.file, f.text, re)));
  assert.deepEqual(
    found,
    [],
    `permission rules written at the edge (put them in lib/auth/permissions.ts RULES):\n${found.join("\n")}`,
  );
  // Every JSON route goes through apiRoute, which enforces the declared rule.
  const routes = edge.filter((f) => /^app\/api\/v1\/.*route\.ts$/.test(f.file));
  assert.ok(routes.length >= 15, `found only ${routes.length} API routes`);
  for (const r of routes) {
    for (const m of r.text.matchAll(/export const (GET|POST|PUT|PATCH|DELETE)\s*=\s*([^\n]*)/g)) {
      assert.match(m[2]!, /^apiRoute(<[^>]*>)?\(/, `${r.file}: ${m[1]} does not go through apiRoute`);
    }
  }
  // Only lib/http/authorize.ts writes denied.* audit events.
  const writers = code
    .filter((f) => f.file !== "lib/http/authorize.ts" && /action:\s*`denied\.|action:\s*"denied\./.test(f.text))
    .map((f) => f.file);
  assert.deepEqual(writers, [], "denials are audited only by lib/http/authorize.ts");
});

test("formats, roles, scopes and statuses are declared once (Prisma's enums)", () => {
  const lists: Array<[string, RegExp]> = [
    ["formats", /"saved_model"[\s,|]+"tf1_hub"[\s,|]+"tfjs_graph"/],
    ["roles", /"viewer"[\s,|]+"publisher"[\s,|]+"admin"/],
    ["scopes", /"read"[\s,|]+"publish"[\s,|]+"admin"/],
    ["version statuses", /"pending"[\s,|]+"validating"[\s,|]+"validated"/],
    ["mirror statuses", /"queued"[\s,|]+"fetching"[\s,|]+"stored"/],
  ];
  const found = code.flatMap((f) => lists.flatMap(([what, re]) => (re.test(f.text) ? [`${f.file}: ${what}`] : [])));
  assert.deepEqual(
    found,
    [],
    `a vocabulary written out again instead of imported from the Prisma enums:\n${found.join("\n")}`,
  );
  const tfjsChecks = code
    .filter((f) => f.file !== "lib/formats/format.ts")
    .flatMap((f) => hits(f.file, f.text, /===\s*"tfjs_graph"\s*\|\|[^|]*===\s*"tfjs_layers"/));
  assert.deepEqual(tfjsChecks, [], `use isTfjs() from lib/formats/format.ts:\n${tfjsChecks.join("\n")}`);
});
