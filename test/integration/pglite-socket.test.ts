// The embedded database shared on a Unix socket (lib/db/pglite-socket.ts), with the real pg driver
// and Prisma's pg adapter as clients: queries in both protocols, errors, and isolation. A client's
// open transaction holds off the server's own queries and every other client until it ends, a
// client that disconnects or idles mid-transaction is rolled back, and the socket is 0600.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { PGlite } from "@electric-sql/pglite";
import {
  shareEmbeddedDatabase,
  socketUrlFor,
  lastReadyStatus,
  type SharedDatabase,
} from "../../lib/db/pglite-socket.ts";
import { openDatabase } from "../../lib/db/client.ts";

let dir: string;
let db: PGlite;
let shared: SharedDatabase;
const logs: string[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hk-sock-"));
  db = await PGlite.create();
  await db.exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
  shared = await shareEmbeddedDatabase(db, dir, { idleInTransactionMs: 600, log: (m) => logs.push(m) });
});

after(async () => {
  await shared.close();
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: socketUrlFor(dir) });
  c.on("error", () => {});
  await c.connect();
  return c;
}

const settled = async (p: Promise<unknown>, ms: number) => {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setTimeout(r, ms));
  return done;
};

test("the socket is a 0600 Unix socket in the data dir", () => {
  const st = fs.statSync(shared.path);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(shared.path, path.join(dir, ".s.PGSQL.5432"));
});

test("simple and extended queries, errors, and recovery after an error", async () => {
  const c = await client();
  try {
    assert.deepEqual((await c.query("SELECT 1 AS one")).rows, [{ one: 1 }]);
    await c.query("INSERT INTO t VALUES ($1, $2)", [1, "é ✓"]);
    assert.deepEqual((await c.query("SELECT v FROM t WHERE id = $1", [1])).rows, [{ v: "é ✓" }]);
    await assert.rejects(c.query("SELECT * FROM no_such_table"), /no_such_table/);
    await assert.rejects(
      c.query("INSERT INTO t VALUES ($1, $2)", [1, "dup"]),
      (err: { code?: string }) => err.code === "23505",
    );
    assert.deepEqual((await c.query("SELECT count(*)::int AS n FROM t")).rows, [{ n: 1 }]);
    // The server's own queries are not blocked by an idle client.
    assert.equal((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM t")).rows[0]!.n, 1);
  } finally {
    await c.end();
  }
});

test("a client's transaction holds off the server and other clients until it commits", async () => {
  const a = await client();
  const b = await client();
  try {
    await a.query("BEGIN");
    await a.query("INSERT INTO t VALUES (2, 'in a transaction')");
    const serverRead = db.query<{ n: number }>("SELECT count(*)::int AS n FROM t");
    const otherClient = b.query("SELECT count(*)::int AS n FROM t");
    assert.equal(await settled(serverRead, 150), false, "the server's query waits for the client's transaction");
    assert.equal(await settled(otherClient, 10), false, "another client waits too");
    await a.query("COMMIT");
    assert.equal((await serverRead).rows[0]!.n, 2);
    assert.deepEqual((await otherClient).rows, [{ n: 2 }]);
  } finally {
    await a.end();
    await b.end();
  }
});

test("a server transaction holds off clients until it ends", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const tx = db.transaction(async (t) => {
    await t.query("INSERT INTO t VALUES (3, 'server')");
    await gate;
  });
  const c = await client();
  try {
    const read = c.query("SELECT count(*)::int AS n FROM t WHERE id = 3");
    assert.equal(await settled(read, 150), false);
    release();
    await tx;
    assert.deepEqual((await read).rows, [{ n: 1 }]);
  } finally {
    await c.end();
  }
});

test("a client that disconnects mid-transaction is rolled back", async () => {
  const a = await client();
  await a.query("BEGIN");
  await a.query("INSERT INTO t VALUES (4, 'lost')");
  (a as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM t WHERE id = 4");
  assert.equal(rows[0]!.n, 0);
  // The database is usable: not left inside the client's transaction.
  await db.query("INSERT INTO t VALUES (4, 'kept')");
  assert.equal((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM t WHERE id = 4")).rows[0]!.n, 1);
});

test("a client idle in a transaction is rolled back and disconnected", async () => {
  const a = await client();
  const ended = new Promise<void>((r) => a.once("end", () => r()));
  await a.query("BEGIN");
  await a.query("INSERT INTO t VALUES (5, 'idle')");
  const t0 = Date.now();
  const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM t WHERE id = 5");
  assert.equal(rows[0]!.n, 0);
  assert.ok(Date.now() - t0 >= 400, "the server waited for the idle timeout");
  await ended;
  assert.ok(logs.some((l) => /idle in a transaction/.test(l)));
});

test("Prisma's pg adapter works through the socket, interactive transactions included", async () => {
  const handle = await openDatabase({ databaseUrl: socketUrlFor(dir), poolSize: 2 });
  try {
    const rows = await handle.prisma.$queryRawUnsafe<{ n: number }[]>("SELECT count(*)::int AS n FROM t");
    assert.ok(rows[0]!.n >= 3);
    await assert.rejects(
      handle.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe("INSERT INTO t VALUES (6, 'rolled back')");
        throw new Error("abort");
      }),
      /abort/,
    );
    await handle.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe("INSERT INTO t VALUES (7, 'committed')");
    });
    const ids = await handle.prisma.$queryRawUnsafe<{ id: number }[]>(
      "SELECT id FROM t WHERE id IN (6, 7) ORDER BY id",
    );
    assert.deepEqual(ids, [{ id: 7 }]);
    // Concurrency through the pool: 20 queries at once all answer.
    const many = await Promise.all(
      Array.from({ length: 20 }, (_, i) => handle.prisma.$queryRawUnsafe<{ i: number }[]>(`SELECT ${i}::int AS i`)),
    );
    assert.deepEqual(
      many.map((r) => r[0]!.i),
      Array.from({ length: 20 }, (_, i) => i),
    );
  } finally {
    await handle.close();
  }
});

test("lastReadyStatus reads the last ReadyForQuery of a response", () => {
  const z = (s: string) => Buffer.from([0x5a, 0, 0, 0, 5, s.charCodeAt(0)]);
  const c = Buffer.from([0x43, 0, 0, 0, 10, ...Buffer.from("BEGIN\0")]);
  assert.equal(lastReadyStatus(Buffer.concat([c, z("T")])), "T");
  assert.equal(lastReadyStatus(Buffer.concat([z("T"), c, z("I")])), "I");
  assert.equal(lastReadyStatus(c), null);
});
