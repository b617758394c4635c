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
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { ADVISORY_LOCKS, type DbHandle } from "./client.ts";
import { AppError } from "../errors.ts";

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
    const { instance } = await WebAssembly.instantiate(bytes, {
      "./schema_engine_bg.js": imports as WebAssembly.ModuleImports,
    });
    (bg as unknown as { __wbg_set_wasm(e: unknown): void }).__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start(): void }).__wbindgen_start();
    return bg;
  })();
  return wasmReady;
}

/** A schema engine bound to a database (for applying) or to none (for datamodel diffs). */
async function createEngine(
  schema: string,
  adapterFactory?: SqlMigrationAwareDriverAdapterFactory,
): Promise<SchemaEngine> {
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
    lockfile: {
      path: "migration_lock.toml",
      content: fs.existsSync(lockPath) ? fs.readFileSync(lockPath, "utf8") : null,
    },
    shadowDbInitScript: "",
    migrationDirectories,
  };
}

/** Applies pending migrations; returns the names applied (empty when up to date). */
export async function applyMigrations(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  dir = MIGRATIONS_DIR,
): Promise<string[]> {
  const engine = await createEngine(readSchema(), adapterFactory);
  try {
    const out = await engine.applyMigrations({ migrationsList: readMigrationList(dir), filters: noFilters });
    return out.appliedMigrationNames;
  } finally {
    engine.free?.();
  }
}

/** Hubkeep's own migration lock (distinct from the schema engine's 72707369). */
export const MIGRATION_LOCK_KEY = ADVISORY_LOCKS.migrations;

export type MigrateOptions = {
  /** How long to wait for another process that is applying migrations (default 120 s). */
  waitMs?: number;
  log?: (msg: string) => void;
};

/** The migrations in `dir` that the database has not finished, asked with one query (no engine). */
async function unappliedMigrations(
  query: (sql: string) => Promise<{ migration_name: string }[]>,
  dir = MIGRATIONS_DIR,
): Promise<string[]> {
  const wanted = readMigrationList(dir).migrationDirectories.map((d) => d.path);
  let rows: { migration_name: string }[];
  try {
    rows = await query(
      `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
  } catch (err) {
    if (
      (err as { code?: string }).code === "42P01" ||
      /_prisma_migrations.*does not exist/.test(String((err as Error).message))
    )
      return wanted;
    throw err;
  }
  const done = new Set(rows.map((r) => r.migration_name));
  return wanted.filter((name) => !done.has(name));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Applies pending migrations to the process's database, once across every process that starts on
 * it at the same moment. With PostgreSQL, one process takes Hubkeep's advisory lock on a connection
 * of its own and migrates through a one-connection pool that is closed right after, so the schema
 * engine's own lock is taken and released on one session and never outlives the migration; the
 * others wait for the lock (bounded, saying so once) and then find nothing to apply. A database that
 * is up to date costs one query and no schema engine.
 */
export async function migrateDatabase(handle: DbHandle, opts: MigrateOptions = {}): Promise<string[]> {
  if (handle.kind === "pglite") {
    const pending = await unappliedMigrations((sql) =>
      handle.pglite!.query<{ migration_name: string }>(sql).then((r) => r.rows),
    );
    return pending.length ? applyMigrations(handle.adapterFactory) : [];
  }
  const connectionString = handle.connectionString!;
  const waitMs = opts.waitMs ?? 120_000;
  const lock = new pg.Client({ connectionString, application_name: "hubkeep-migrate-lock" });
  await lock.connect();
  try {
    const started = Date.now();
    let told = false;
    for (;;) {
      const { rows } = await lock.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [MIGRATION_LOCK_KEY]);
      if (rows[0]?.ok) break;
      const waited = Date.now() - started;
      if (waited > waitMs) {
        throw new AppError(
          "service_unavailable",
          `another process has been applying migrations to ${handle.describe} for ${Math.round(waited / 1000)} s (advisory lock ${MIGRATION_LOCK_KEY}); check it, or raise HUBKEEP_MIGRATION_WAIT_SECONDS`,
        );
      }
      if (!told) {
        opts.log?.("another process is applying migrations; waiting for it");
        told = true;
      }
      await sleep(200);
    }
    try {
      const pending = await unappliedMigrations((sql) =>
        lock.query<{ migration_name: string }>(sql).then((r) => r.rows),
      );
      if (pending.length === 0) return [];
      const pool = new pg.Pool({ connectionString, max: 1, application_name: "hubkeep-migrate" });
      pool.on("error", () => {});
      try {
        return await applyMigrations(new PrismaPg(pool));
      } finally {
        await pool.end().catch(() => {});
      }
    } finally {
      await lock.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
    }
  } finally {
    await lock.end().catch(() => {});
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
      from:
        from === null
          ? { tag: "empty" }
          : { tag: "schemaDatamodel", files: [{ path: "schema.prisma", content: from }] },
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
    fs.writeFileSync(
      lock,
      '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
    );
  }
  fs.writeFileSync(SNAPSHOT_PATH, current);
  return target;
}

/** True when schema.prisma has changes that no migration holds yet. */
export async function hasPendingSchemaChange(): Promise<boolean> {
  const previous = fs.existsSync(SNAPSHOT_PATH) ? readSchema(SNAPSHOT_PATH) : null;
  return (await diffSchemas(previous, readSchema())).trim() !== "";
}
