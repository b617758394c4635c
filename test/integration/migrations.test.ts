// Migrations are the schema: applying them to an empty database must give exactly what
// schema.prisma describes. Compared through the catalogs (introspection through the pg adapter is
// not usable, see lib/db/migrate.ts).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { applyMigrations, diffSchemas, hasPendingSchemaChange, SCHEMA_PATH } from "../../lib/db/migrate.ts";
import { openEmptyDatabase, type TestDatabase } from "../helpers/db.ts";

const opened: TestDatabase[] = [];
after(async () => {
  for (const d of opened) await d.drop();
});

async function empty() {
  const d = await openEmptyDatabase();
  opened.push(d);
  return d;
}

// Tables, columns, types, defaults, constraints, indexes and enums of the public schema. Triggers
// and functions are left out: Prisma cannot express them (the audit trigger migration).
const CATALOG_SQL = `
SELECT 'column' AS kind, table_name || '.' || column_name AS name,
       data_type || ':' || udt_name || ':' || is_nullable || ':' || coalesce(column_default, '') AS def
  FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'
UNION ALL
SELECT 'constraint', conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> '_prisma_migrations'
UNION ALL
SELECT 'index', tablename || '.' || indexname, indexdef
  FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'
UNION ALL
SELECT 'enum', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
  FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname
ORDER BY 1, 2`;

type Row = { kind: string; name: string; def: string };

async function catalog(d: TestDatabase): Promise<string[]> {
  const rows = await d.handle.prisma.$queryRawUnsafe<Row[]>(CATALOG_SQL);
  return rows.map((r) => `${r.kind} ${r.name} ${r.def}`);
}

async function exec(d: TestDatabase, sql: string) {
  if (d.handle.pglite) await d.handle.pglite.exec(sql);
  else await d.handle.prisma.$executeRawUnsafe(`DO $hk$ BEGIN EXECUTE ${quote(sql)}; END $hk$`);
}

function quote(s: string) {
  return `'${s.replace(/'/g, "''")}'`;
}

test("migrating an empty database gives exactly schema.prisma (empty diff)", async () => {
  const migrated = await empty();
  const applied = await applyMigrations(migrated.handle.adapterFactory);
  assert.ok(applied.length >= 1, "applies the checked-in migrations");

  const direct = await empty();
  const script = await diffSchemas(null, fs.readFileSync(SCHEMA_PATH, "utf8"));
  assert.match(script, /CREATE TABLE "Version"/);
  await exec(direct, script);

  const a = await catalog(migrated);
  const b = await catalog(direct);
  assert.ok(a.length > 100, `catalog has content (${a.length} rows)`);
  assert.deepEqual(a, b);
});

test("a second migrate applies nothing", async () => {
  const d = await empty();
  await applyMigrations(d.handle.adapterFactory);
  assert.deepEqual(await applyMigrations(d.handle.adapterFactory), []);
});

test("schema.prisma has no change that a migration does not hold", async () => {
  assert.equal(await hasPendingSchemaChange(), false, "run npm run db:diff -- <name>");
});

test("the database enforces module/version uniqueness, blob digest uniqueness and an append-only audit log", async () => {
  const d = await empty();
  await applyMigrations(d.handle.adapterFactory);
  const prisma = d.handle.prisma;
  const digest = `sha256:${"a".repeat(64)}`;
  await prisma.blob.create({ data: { digest, size: 3n, storageKey: "k" } });
  await assert.rejects(prisma.blob.create({ data: { digest, size: 3n, storageKey: "k" } }), { code: "P2002" });
  const mod = await prisma.module.create({ data: { handle: "google/x", source: "upstream", publisher: "google" } });
  await prisma.version.create({ data: { moduleId: mod.id, number: 1, format: "saved_model", digest, size: 3n } });
  await assert.rejects(
    prisma.version.create({ data: { moduleId: mod.id, number: 1, format: "saved_model", digest, size: 3n } }),
    { code: "P2002" },
  );
  await assert.rejects(
    prisma.version.create({
      data: { moduleId: mod.id, number: 2, format: "saved_model", digest: `sha256:${"b".repeat(64)}`, size: 3n },
    }),
    { code: "P2003" },
    "a version's digest must reference a stored blob",
  );
  const ev = await prisma.auditEvent.create({ data: { action: "test" } });
  await assert.rejects(prisma.auditEvent.update({ where: { id: ev.id }, data: { action: "changed" } }), /append-only/);
  await assert.rejects(prisma.auditEvent.delete({ where: { id: ev.id } }), /append-only/);
  assert.equal((await prisma.auditEvent.findUnique({ where: { id: ev.id } }))?.action, "test");
});
