// Shared start-up for the server, the worker and CLI commands that touch the database: open the
// database (failing fast with what it tried), apply migrations (once across processes), check the
// blob store.
//
// The embedded database belongs to one process. A CLI command (`share: true`) run while the server
// holds it connects through the server's socket (lib/db/pglite-socket.ts) instead; with the server
// stopped it opens the files itself.
import path from "node:path";
import type { Env } from "../env.ts";
import { openDatabase, setDatabase, withTimeout, type DbHandle } from "../db/client.ts";
import { migrateDatabase } from "../db/migrate.ts";
import { socketUrlFor } from "../db/pglite-socket.ts";
import { getBlobStore } from "../storage/index.ts";
import { AppError } from "../errors.ts";
import { lockDataDir, readDataDirLock } from "./data-dir-lock.ts";

export type Booted = { db: DbHandle; applied: string[]; release: () => void; shared?: { holder: string; pid: number } };

export type BootOptions = {
  holder: string;
  migrate?: boolean;
  checkStore?: boolean;
  /** Embedded mode: use a running server's database through its socket when it holds the data dir. */
  share?: boolean;
  /** How long a sharing process waits for a starting server's socket (default 60 s). */
  shareWaitMs?: number;
  log?: (msg: string) => void;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function bootDatabase(env: Env, opts: BootOptions): Promise<Booted> {
  if (!env.databaseUrl && opts.share) {
    const shared = await connectToSharedDatabase(env, opts);
    if (shared) return shared;
  }
  const release = env.databaseUrl ? () => {} : lockDataDir(env.dataDir, opts.holder);
  try {
    const db = await openDatabase({ databaseUrl: env.databaseUrl, pgliteDir: path.join(env.dataDir, "pgdata") });
    setDatabase(db);
    const applied =
      opts.migrate === false ? [] : await migrateDatabase(db, { waitMs: env.migrationWaitMs, log: opts.log });
    await checkStore(env, opts);
    return { db, applied, release };
  } catch (err) {
    release();
    throw err;
  }
}

async function checkStore(env: Env, opts: BootOptions): Promise<void> {
  if (opts.checkStore === false) return;
  const store = getBlobStore();
  await withTimeout(store.check(), 10_000, `checking the blob store`).catch((err: Error) => {
    throw new Error(`cannot use the blob store ${env.blobStoreUrl}: ${err.message}`);
  });
}

/**
 * When another live process holds the embedded database: connect through its socket (waiting for a
 * starting server to open it), or wait for a short-lived holder (another CLI command) to let go.
 * Returns null when the data dir is free, so the caller opens the files itself.
 */
async function connectToSharedDatabase(env: Env, opts: BootOptions): Promise<Booted | null> {
  const deadline = Date.now() + (opts.shareWaitMs ?? 60_000);
  let told = false;
  for (;;) {
    const holder = readDataDirLock(env.dataDir);
    if (!holder) return null;
    if (holder.socket) {
      const db = await openDatabase({ databaseUrl: socketUrlFor(env.dataDir), poolSize: 2 }).catch((err: Error) => {
        throw new AppError(
          "service_unavailable",
          `the embedded database in ${env.dataDir} is held by ${holder.holder ?? "another process"} (pid ${holder.pid}), and its socket ${holder.socket} does not answer: ${err.message}`,
        );
      });
      db.describe = `the embedded database of ${holder.holder ?? "another process"} (pid ${holder.pid}), through ${holder.socket}`;
      setDatabase(db);
      // The holder applied the migrations when it started.
      await checkStore(env, opts);
      return {
        db,
        applied: [],
        release: () => {},
        shared: { holder: holder.holder ?? "another process", pid: holder.pid },
      };
    }
    if (Date.now() > deadline) {
      throw new AppError(
        "service_unavailable",
        `the embedded database in ${env.dataDir} is in use by ${holder.holder ?? "another process"} (pid ${holder.pid}), which does not share it; stop it first, or set DATABASE_URL to use PostgreSQL`,
      );
    }
    if (!told) {
      (opts.log ?? ((m: string) => process.stderr.write(`hubkeep: ${m}\n`)))(
        `waiting for ${holder.holder ?? "another process"} (pid ${holder.pid}) to open the embedded database`,
      );
      told = true;
    }
    await sleep(200);
  }
}
