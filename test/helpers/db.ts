// A fresh, migrated database for one test file: a new PostgreSQL database when DATABASE_URL is set
// (dropped afterwards), otherwise an in-memory PGlite. Installs it as the process's database.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase, setDatabase, clearDatabase, type DbHandle } from "../../lib/db/client.ts";
import { applyMigrations } from "../../lib/db/migrate.ts";

export type TestDatabase = { handle: DbHandle; url?: string; name?: string; drop(): Promise<void> };

let counter = 0;

function urlFor(base: string, database: string): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates an empty database (no migrations) and returns its URL; Postgres only. */
export async function createEmptyPostgresDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL!;
  const name = `hk_test_${process.env.HUBKEEP_TEST_RUN ?? "adhoc"}_${process.pid}_${counter++}_${randomBytes(3).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    url: urlFor(base, name),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export const usingPostgres = () => Boolean(process.env.DATABASE_URL);

/** Opens an empty database of the run's kind (not migrated, not installed). */
export async function openEmptyDatabase(): Promise<TestDatabase> {
  if (usingPostgres()) {
    const created = await createEmptyPostgresDatabase();
    const handle = await openDatabase({ databaseUrl: created.url });
    return {
      handle,
      url: created.url,
      name: created.name,
      async drop() {
        await handle.close().catch(() => {});
        await created.drop();
      },
    };
  }
  const handle = await openDatabase({ pgliteDir: "memory://" });
  return { handle, drop: () => handle.close() };
}

/** A fresh migrated database installed as the process's database. */
export async function setupTestDatabase(): Promise<TestDatabase> {
  const t = await openEmptyDatabase();
  await applyMigrations(t.handle.adapterFactory);
  setDatabase(t.handle);
  return {
    ...t,
    async drop() {
      clearDatabase();
      await t.drop();
    },
  };
}
