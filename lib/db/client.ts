// The one database module. `DATABASE_URL` set -> PostgreSQL through @prisma/adapter-pg; unset -> the
// embedded PGlite database in $HUBKEEP_DATA_DIR/pgdata through pglite-prisma-adapter. The handle is
// a process-wide singleton on globalThis so that the server entry, the bundled route handlers and
// the in-process worker share one connection (PGlite lives in exactly one process).
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.ts";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import type { PGlite } from "@electric-sql/pglite";
import { AppError } from "../errors.ts";
import { getLogger } from "../log.ts";

export type Db = PrismaClient;

export type DbHandle = {
  prisma: PrismaClient;
  kind: "postgres" | "pglite";
  /** The adapter factory, for the schema engine (migrations). */
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** Present in embedded mode: the job queue shares it. */
  pglite?: PGlite;
  connectionString?: string;
  /** Human description of where the data lives, for start-up and error messages. */
  describe: string;
  close(): Promise<void>;
};

export type OpenDatabaseOptions = {
  databaseUrl?: string;
  /** Embedded mode: directory for PGlite's files; `memory://` for an in-memory database. */
  pgliteDir?: string;
  /** Connection attempt timeout (Postgres). */
  connectTimeoutMs?: number;
  poolSize?: number;
};

/** Hides the password of a postgres URL for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}

/** Opens (and checks) a database. Fails fast with a message naming what it tried. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<DbHandle> {
  if (opts.databaseUrl) {
    const timeout = opts.connectTimeoutMs ?? 5000;
    // Our own pool, so that close() also ends connections the schema engine opened through it.
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      connectionTimeoutMillis: timeout,
      max: opts.poolSize ?? 10,
    });
    pool.on("error", (err) => getLogger().warn({ err }, "idle database connection error"));
    const adapterFactory = new PrismaPg(pool);
    const prisma = new PrismaClient({ adapter: adapterFactory });
    const describe = `PostgreSQL at ${redactUrl(opts.databaseUrl)}`;
    try {
      await withTimeout(prisma.$queryRawUnsafe("SELECT 1"), timeout + 1000, "connecting");
    } catch (err) {
      await prisma.$disconnect().catch(() => {});
      await pool.end().catch(() => {});
      throw new AppError("service_unavailable", `cannot connect to ${describe}: ${reason(err)}`);
    }
    return {
      prisma,
      kind: "postgres",
      adapterFactory,
      connectionString: opts.databaseUrl,
      describe,
      close: async () => {
        await prisma.$disconnect();
        await pool.end();
      },
    };
  }
  const dir = opts.pgliteDir ?? "memory://";
  const { PGlite } = await import("@electric-sql/pglite");
  const { PrismaPGlite } = await import("pglite-prisma-adapter");
  if (!dir.startsWith("memory://")) fs.mkdirSync(path.dirname(dir), { recursive: true });
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(dir.startsWith("memory://") ? undefined : dir);
  } catch (err) {
    throw new AppError("service_unavailable", `cannot open the embedded database in ${dir}: ${reason(err)}`);
  }
  const adapterFactory = new PrismaPGlite(pglite);
  const prisma = new PrismaClient({ adapter: adapterFactory });
  return {
    prisma,
    kind: "pglite",
    adapterFactory,
    pglite,
    describe: `embedded PostgreSQL (PGlite) in ${dir}`,
    close: async () => {
      await prisma.$disconnect();
      if (!pglite.closed) await pglite.close();
    },
  };
}

function reason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return `${code ? `${code} ` : ""}${err.message.split("\n").filter(Boolean).pop() ?? err.name}`;
  }
  return String(err);
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * PostgreSQL advisory lock keys, one per start-up step that several processes may run at the same
 * moment (arbitrary constants, distinct from the schema engine's 72707369).
 */
export const ADVISORY_LOCKS = {
  migrations: 1752525669,
  bootstrapAdmin: 1752525670,
  allowlistSeed: 1752525671,
} as const;

/** Serialises a transaction with every other one taking the same key, until it commits or rolls back. */
export async function lockTransaction(
  tx: { $executeRawUnsafe(sql: string): Promise<number> },
  key: number,
): Promise<void> {
  await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${Math.trunc(key)})`);
}

type Shared = { __hubkeepDb?: Promise<DbHandle> };
const shared = globalThis as Shared;

/** Installs the process's database handle (the server entry and tests call this first). */
export function setDatabase(handle: DbHandle | Promise<DbHandle>): void {
  shared.__hubkeepDb = Promise.resolve(handle);
}

export function clearDatabase(): void {
  shared.__hubkeepDb = undefined;
}

/** The process's database handle; opened from the environment on first use. */
export function getDatabase(): Promise<DbHandle> {
  if (!shared.__hubkeepDb) {
    shared.__hubkeepDb = (async () => {
      const { getEnv } = await import("../env.ts");
      const env = getEnv();
      return openDatabase({ databaseUrl: env.databaseUrl, pgliteDir: path.join(env.dataDir, "pgdata") });
    })();
    shared.__hubkeepDb.catch(() => {
      shared.__hubkeepDb = undefined;
    });
  }
  return shared.__hubkeepDb;
}

/** The Prisma client of the process's database. */
export async function db(): Promise<PrismaClient> {
  return (await getDatabase()).prisma;
}

/** One round trip to the process's database (health checks); throws when it cannot answer. */
export async function pingDatabase(): Promise<void> {
  await (await getDatabase()).prisma.$queryRawUnsafe("SELECT 1");
}
