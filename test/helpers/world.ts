// One test file's world: a private work folder, a fresh migrated database installed as the
// process's (PGlite, or a new PostgreSQL database when DATABASE_URL is set; see db.ts), and on
// request a filesystem blob store, a fake upstream with the environment pointing at it, a queue,
// a publisher user, allowlist rules and a private TMPDIR. close() undoes all of it in reverse
// order, restoring every environment variable it set and the parsed-environment cache.
//
//   let world: TestWorld;
//   before(async () => (world = await createTestWorld({ name: "mirror", store: true, upstream: true })));
//   after(() => world?.close());
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FsBlobStore, setBlobStore } from "../../lib/storage/index.ts";
import { startQueue, setQueue, type Queue } from "../../lib/jobs/queue.ts";
import { seedAllowlistOnce } from "../../lib/models/allowlist.ts";
import type { UserPrincipal } from "../../lib/auth/principal.ts";
import { setupTestDatabase, type TestDatabase } from "./db.ts";
import { startFakeUpstream, type FakeUpstream } from "./fake-upstream.ts";

export type TestWorldOptions = {
  /** Names the work folder (`hubkeep-<name>-XXXXXX` in the system temp folder). */
  name?: string;
  /** A private TMPDIR (`<work>/tmp`) for everything the file starts, set before anything else. */
  privateTmp?: boolean;
  /** A fake upstream; HUBKEEP_UPSTREAM_TFHUB/_HOSTS point at it and private upstreams are allowed. */
  upstream?: boolean;
  /** More environment for the file, set (after the upstream's) before the environment is read. */
  env?: Record<string, string>;
  /** A filesystem blob store at `<work>/store`, installed as the process's store. */
  store?: boolean;
  /** The user u1 (pub@example.com, publisher) and its token principal, `world.publisher`. */
  publisher?: boolean;
  /** A pg-boss queue on the world's database (unsupervised), installed as the process's queue. */
  queue?: boolean;
  /** Allowlist rules, seeded as the first start would seed HUBKEEP_ALLOWLIST. */
  allowlist?: string[];
};

export type TestWorld = {
  /** The file's own folder; removed by close(). */
  readonly work: string;
  readonly db: TestDatabase;
  /** `<work>/store`, the blob store's root. */
  readonly storeDir: string;
  /** The following throw when the world was made without the option that provides them. */
  readonly store: FsBlobStore;
  readonly up: FakeUpstream;
  readonly queue: Queue;
  readonly publisher: UserPrincipal;
  /** `<work>/tmp`, the private TMPDIR. */
  readonly tmp: string;
  close(): Promise<void>;
};

/** Drops the parsed environment so the next getEnv() reads process.env again. */
export function resetEnvCache(): void {
  (globalThis as { __hubkeepEnv?: unknown }).__hubkeepEnv = undefined;
}

export async function createTestWorld(opts: TestWorldOptions = {}): Promise<TestWorld> {
  const undo: Array<() => unknown> = [];
  const close = async () => {
    const failures: unknown[] = [];
    for (const step of undo.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length === 1) throw failures[0] as Error;
    if (failures.length > 1) throw new AggregateError(failures, "test world: closing failed");
  };
  const setEnv = (vars: Record<string, string>) => {
    for (const [k, v] of Object.entries(vars)) {
      const saved = process.env[k];
      undo.push(() => {
        if (saved === undefined) delete process.env[k];
        else process.env[k] = saved;
      });
      process.env[k] = v;
    }
  };
  const parts: Partial<Record<"store" | "up" | "queue" | "publisher" | "tmp", unknown>> = {};

  const work = fs.mkdtempSync(path.join(os.tmpdir(), `hubkeep-${opts.name ?? "world"}-`));
  undo.push(() => fs.rmSync(work, { recursive: true, force: true }));
  const storeDir = path.join(work, "store");
  let db: TestDatabase;
  try {
    if (opts.privateTmp) {
      const tmp = path.join(work, "tmp");
      fs.mkdirSync(tmp);
      setEnv({ TMPDIR: tmp });
      parts.tmp = tmp;
    }
    if (opts.upstream) {
      const up = await startFakeUpstream();
      undo.push(() => up.close());
      // requestMirror probes the upstream from the environment's configuration: point it at the fake.
      setEnv({
        HUBKEEP_UPSTREAM_TFHUB: up.base,
        HUBKEEP_UPSTREAM_HOSTS: `127.0.0.1:${up.port}`,
        HUBKEEP_ALLOW_PRIVATE_UPSTREAM: "true",
      });
      parts.up = up;
    }
    if (opts.env) setEnv(opts.env);
    undo.push(resetEnvCache);
    resetEnvCache();

    db = await setupTestDatabase();
    undo.push(() => db.drop());
    if (opts.publisher) {
      await db.handle.prisma.user.create({ data: { id: "u1", email: "pub@example.com", role: "publisher" } });
      parts.publisher = {
        kind: "user",
        userId: "u1",
        email: "pub@example.com",
        role: "publisher",
        scope: "publish",
        via: "token",
        namespaces: [],
      } satisfies UserPrincipal;
    }
    if (opts.store) {
      fs.mkdirSync(storeDir);
      const store = new FsBlobStore({ root: storeDir });
      undo.push(() => setBlobStore(undefined));
      setBlobStore(store);
      parts.store = store;
    }
    if (opts.queue) {
      const queue = await startQueue(db.handle, { supervise: false });
      undo.push(() => queue.stop({ graceful: false, timeoutMs: 2000 }));
      undo.push(() => setQueue(undefined));
      setQueue(queue);
      parts.queue = queue;
    }
    if (opts.allowlist) await seedAllowlistOnce(opts.allowlist);
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }

  const part = <T>(key: keyof typeof parts, option: keyof TestWorldOptions): T => {
    if (parts[key] === undefined) throw new Error(`test world: made without { ${option}: true }`);
    return parts[key] as T;
  };
  return {
    work,
    db,
    storeDir,
    get store() {
      return part<FsBlobStore>("store", "store");
    },
    get up() {
      return part<FakeUpstream>("up", "upstream");
    },
    get queue() {
      return part<Queue>("queue", "queue");
    },
    get publisher() {
      return part<UserPrincipal>("publisher", "publisher");
    },
    get tmp() {
      return part<string>("tmp", "privateTmp");
    },
    close,
  };
}
