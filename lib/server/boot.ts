// Shared start-up for the server, the worker and CLI commands that touch the database: open the
// database (failing fast with what it tried), apply migrations, check the blob store.
import path from "node:path";
import type { Env } from "../env.ts";
import { openDatabase, setDatabase, withTimeout, type DbHandle } from "../db/client.ts";
import { applyMigrations } from "../db/migrate.ts";
import { getBlobStore } from "../storage/index.ts";
import { lockDataDir } from "./data-dir-lock.ts";

export type Booted = { db: DbHandle; applied: string[]; release: () => void };

export async function bootDatabase(env: Env, opts: { holder: string; migrate?: boolean; checkStore?: boolean }): Promise<Booted> {
  const release = env.databaseUrl ? () => {} : lockDataDir(env.dataDir, opts.holder);
  try {
    const db = await openDatabase({ databaseUrl: env.databaseUrl, pgliteDir: path.join(env.dataDir, "pgdata") });
    setDatabase(db);
    const applied = opts.migrate === false ? [] : await applyMigrations(db.adapterFactory);
    if (opts.checkStore !== false) {
      const store = getBlobStore();
      await withTimeout(store.check(), 10_000, `checking the blob store`).catch((err: Error) => {
        throw new Error(`cannot use the blob store ${env.blobStoreUrl}: ${err.message}`);
      });
    }
    return { db, applied, release };
  } catch (err) {
    release();
    throw err;
  }
}
