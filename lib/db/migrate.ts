// Offline migrations. The native Prisma schema engine cannot be downloaded here, so migrations are
// created and applied with the same engine compiled to Wasm (@prisma/schema-engine-wasm, pinned),
// driven through the driver adapter of the database being migrated (pg or PGlite). One path serves
// the embedded default and PostgreSQL.
//
// Creating the next migration: `npm run db:diff -- <name>` diffs prisma/schema.snapshot.prisma (the
// schema as of the last migration) against prisma/schema.prisma, writes
// prisma/migrations/<timestamp>_<name>/migration.sql, and updates the snapshot. Nothing reads a live
// database schema (introspection through the pg adapter fails on 'char' columns).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";

const require = createRequire(import.meta.url);

export const PRISMA_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../prisma");
export const SCHEMA_PATH = path.join(PRISMA_DIR, "schema.prisma");
export const SNAPSHOT_PATH = path.join(PRISMA_DIR, "schema.snapshot.prisma");
export const MIGRATIONS_DIR = path.join(PRISMA_DIR, "migrations");

type EngineModule = typeof import("@prisma/schema-engine-wasm/schema_engine_bg");
type SchemaEngine = import("@prisma/schema-engine-wasm/schema_engine_bg").SchemaEngine;

let wasmReady: Promise<EngineModule> | undefined;

async function loadWasm(): Promise<EngineModule> {
  wasmReady ??= (async () => {
    const pkgDir = path.dirname(require.resolve("@prisma/schema-engine-wasm/schema_engine_bg"));
    const bg = (await import(path.join(pkgDir, "schema_engine_bg.js"))) as EngineModule;
    const bytes = fs.readFileSync(path.join(pkgDir, "schema_engine_bg.wasm"));
    // The engine arms 10 s timers that would keep a finished CLI or test process alive: unref them.
    const imports: Record<string, unknown> = { ...bg };
    for (const key of Object.keys(imports)) {
      const fn = imports[key];
      if (key.startsWith("__wbg_setTimeout_") && typeof fn === "function") {
        imports[key] = (...args: unknown[]) => {
          const timer = (fn as (...a: unknown[]) => unknown)(...args);
          (timer as { unref?: () => void })?.unref?.();
          return timer;
        };
      }
    }
    const { instance } = await WebAssembly.instantiate(bytes, { "./schema_engine_bg.js": imports as WebAssembly.ModuleImports });
    (bg as unknown as { __wbg_set_wasm(e: unknown): void }).__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start(): void }).__wbindgen_start();
    return bg;
  })();
  return wasmReady;
}

/** A schema engine bound to a database (for applying) or to none (for datamodel diffs). */
async function createEngine(schema: string, adapterFactory?: SqlMigrationAwareDriverAdapterFactory): Promise<SchemaEngine> {
  const bg = await loadWasm();
  const log = (msg: string) => {
    if (process.env.HUBKEEP_DEBUG_MIGRATE) process.stderr.write(`schema-engine: ${msg}\n`);
  };
  const adapter = adapterFactory ? bindMigrationAwareSqlAdapterFactory(wholeScripts(adapterFactory)) : undefined;
  return bg.SchemaEngine.new({ datamodels: [["schema.prisma", schema]] }, log, adapter as object);
}

type ScriptAdapter = {
  executeScript(script: string): Promise<void>;
  underlyingDriver?(): { query(sql: string): Promise<unknown> };
  onError?(err: unknown): never;
};

// @prisma/adapter-pg runs a migration script by splitting it on ";", which breaks function bodies
// (the audit trigger). Send the script whole, as the native engine does: PostgreSQL's simple query
// protocol runs multi-statement strings. PGlite's adapter already executes scripts whole.
function wholeScripts(factory: SqlMigrationAwareDriverAdapterFactory): SqlMigrationAwareDriverAdapterFactory {
  if (factory.adapterName !== "@prisma/adapter-pg") return factory;
  const patch = <T>(adapter: T): T => {
    const a = adapter as unknown as ScriptAdapter;
    const driver = a.underlyingDriver?.();
    if (driver) {
      a.executeScript = async (script: string) => {
        try {
          await driver.query(script);
        } catch (err) {
          if (a.onError) a.onError(err);
          throw err;
        }
      };
    }
    return adapter;
  };
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => patch(await factory.connect()),
    connectToShadowDb: async () => patch(await factory.connectToShadowDb()),
  };
}

const noFilters = { externalTables: [], externalEnums: [] };

function readSchema(file = SCHEMA_PATH): string {
  return fs.readFileSync(file, "utf8");
}

/** Reads prisma/migrations in Prisma's directory format. */
export function readMigrationList(dir = MIGRATIONS_DIR) {
  const lockPath = path.join(dir, "migration_lock.toml");
  const migrationDirectories = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => ({
      path: name,
      migrationFile: {
        path: "migration.sql",
        content: { tag: "ok" as const, value: fs.readFileSync(path.join(dir, name, "migration.sql"), "utf8") },
      },
    }));
  return {
    baseDir: dir,
    lockfile: { path: "migration_lock.toml", content: fs.existsSync(lockPath) ? fs.readFileSync(lockPath, "utf8") : null },
    shadowDbInitScript: "",
    migrationDirectories,
  };
}

/** Applies pending migrations; returns the names applied (empty when up to date). */
export async function applyMigrations(adapterFactory: SqlMigrationAwareDriverAdapterFactory, dir = MIGRATIONS_DIR): Promise<string[]> {
  const engine = await createEngine(readSchema(), adapterFactory);
  try {
    const out = await engine.applyMigrations({ migrationsList: readMigrationList(dir), filters: noFilters });
    return out.appliedMigrationNames;
  } finally {
    engine.free?.();
  }
}

/** The SQL that takes one datamodel to another (no database involved). Empty string: no change. */
export async function diffSchemas(from: string | null, to: string): Promise<string> {
  // The engine connects an adapter even for a pure datamodel diff; a throwaway in-memory PGlite
  // serves, so diffs need no server and no network.
  const { PGlite } = await import("@electric-sql/pglite");
  const { PrismaPGlite } = await import("pglite-prisma-adapter");
  const scratch = await PGlite.create();
  const engine = await createEngine(to, new PrismaPGlite(scratch));
  try {
    const result = await engine.diff({
      from: from === null ? { tag: "empty" } : { tag: "schemaDatamodel", files: [{ path: "schema.prisma", content: from }] },
      to: { tag: "schemaDatamodel", files: [{ path: "schema.prisma", content: to }] },
      script: true,
      exitCode: true,
      filters: noFilters,
    });
    return result.exitCode === 0 ? "" : (result.stdout ?? "");
  } finally {
    engine.free?.();
    await scratch.close();
  }
}

/** Creates the next migration from the schema change since the last one. Returns its dir, or null. */
export async function createMigration(name: string, opts: { dir?: string; now?: Date } = {}): Promise<string | null> {
  const dir = opts.dir ?? MIGRATIONS_DIR;
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`migration name "${name}" must be lowercase letters, digits and _`);
  const current = readSchema();
  const previous = fs.existsSync(SNAPSHOT_PATH) ? readSchema(SNAPSHOT_PATH) : null;
  const sql = await diffSchemas(previous, current);
  if (!sql.trim()) return null;
  const d = opts.now ?? new Date();
  const stamp = d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const target = path.join(dir, `${stamp}_${name}`);
  fs.mkdirSync(target, { recursive: true });
  fs.writeFileSync(path.join(target, "migration.sql"), sql);
  const lock = path.join(dir, "migration_lock.toml");
  if (!fs.existsSync(lock)) {
    fs.writeFileSync(lock, '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n');
  }
  fs.writeFileSync(SNAPSHOT_PATH, current);
  return target;
}

/** True when schema.prisma has changes that no migration holds yet. */
export async function hasPendingSchemaChange(): Promise<boolean> {
  const previous = fs.existsSync(SNAPSHOT_PATH) ? readSchema(SNAPSHOT_PATH) : null;
  return (await diffSchemas(previous, readSchema())).trim() !== "";
}
