// Shares the server's embedded database (PGlite, one process) with local processes such as the CLI:
// a PostgreSQL wire-protocol server on a Unix socket in the data dir (mode 0600), which the ordinary
// pg driver reaches with `?host=<data dir>`.
//
// PGlite is one backend session. To keep clients from seeing each other's transactions, every unit
// of work a client sends (a simple Query, or an extended-protocol batch up to its Sync) runs under
// PGlite's transaction and query locks, the same locks the server's own queries take; a client whose
// ReadyForQuery says it is inside a transaction keeps the transaction lock until it is idle again, so
// neither the server nor another client can interleave. A client that holds a transaction open and
// says nothing for `idleInTransactionMs` is rolled back and disconnected; a client that disconnects
// mid-transaction is rolled back. (@electric-sql/pglite-socket locks the database for as long as a
// client is connected, which would stop the server while a CLI command runs, and pins an older
// PGlite.)
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { randomInt } from "node:crypto";
import type { PGlite } from "@electric-sql/pglite";

/** The socket's file name, as libpq and pg expect it in a socket directory (port 5432). */
export const SOCKET_FILE = ".s.PGSQL.5432";
/** Unix socket paths longer than this do not fit in sockaddr_un on Linux. */
const MAX_SOCKET_PATH = 107;

export function socketPathFor(dataDir: string): string {
  return path.join(dataDir, SOCKET_FILE);
}

/** The connection string for the shared embedded database in `dataDir`. */
export function socketUrlFor(dataDir: string): string {
  return `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(dataDir)}`;
}

export type SharedDatabase = { path: string; close(): Promise<void> };

// The locks PGlite's own query() and transaction() take (see the class's _runExclusive* methods).
type LockingPGlite = PGlite & {
  _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T>;
  _runExclusiveQuery<T>(fn: () => Promise<T>): Promise<T>;
};

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, "utf8");
}

const SIMPLE_QUERY_ROLLBACK = message("Q", cstr("ROLLBACK"));

/** The status byte of the last ReadyForQuery in a backend response, or null if it has none. */
export function lastReadyStatus(response: Uint8Array): string | null {
  let status: string | null = null;
  let i = 0;
  while (i + 5 <= response.length) {
    const type = response[i]!;
    const len =
      ((response[i + 1]! << 24) | (response[i + 2]! << 16) | (response[i + 3]! << 8) | response[i + 4]!) >>> 0;
    if (type === 0x5a && len === 5 && i + 5 < response.length) status = String.fromCharCode(response[i + 5]!);
    i += 1 + len;
  }
  return status;
}

/** Starts sharing `pglite` on `<dataDir>/.s.PGSQL.5432`. Any socket file left there is replaced. */
export async function shareEmbeddedDatabase(
  pglite: PGlite,
  dataDir: string,
  opts: { idleInTransactionMs?: number; log?: (msg: string) => void } = {},
): Promise<SharedDatabase> {
  const db = pglite as LockingPGlite;
  const file = socketPathFor(dataDir);
  if (Buffer.byteLength(file) > MAX_SOCKET_PATH) {
    throw new Error(`the socket path ${file} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter HUBKEEP_DATA_DIR`);
  }
  const idleMs = opts.idleInTransactionMs ?? 30_000;
  const log = opts.log ?? (() => {});
  const params = await startupParameters(db);
  // The caller holds the data dir's lock, so a socket file there is a dead server's.
  fs.rmSync(file, { force: true });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    serveConnection(db, socket, params, idleMs, log);
  });
  await new Promise<void>((resolve, reject) => {
    // Created 0600 from the start (umask), not chmod-ed after a window in which others could connect.
    const umask = process.umask(0o177);
    try {
      server.once("error", reject);
      server.listen(file, () => {
        server.off("error", reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
  fs.chmodSync(file, 0o600);
  return {
    path: file,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      fs.rmSync(file, { force: true });
    },
  };
}

/** What a real server reports after authentication, read from this database once. */
async function startupParameters(db: PGlite): Promise<Buffer> {
  const names = [
    "server_version",
    "server_encoding",
    "client_encoding",
    "DateStyle",
    "IntervalStyle",
    "TimeZone",
    "integer_datetimes",
    "standard_conforming_strings",
    "is_superuser",
  ];
  const parts: Buffer[] = [];
  for (const name of names) {
    const { rows } = await db.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name]);
    parts.push(message("S", Buffer.concat([cstr(name), cstr(rows[0]?.v ?? "")])));
  }
  parts.push(message("S", Buffer.concat([cstr("session_authorization"), cstr("postgres")])));
  return Buffer.concat(parts);
}

function serveConnection(
  db: LockingPGlite,
  socket: net.Socket,
  params: Buffer,
  idleMs: number,
  log: (msg: string) => void,
) {
  let buffer: Buffer = Buffer.alloc(0);
  let started = false;
  let batch: Buffer[] = [];
  let chain: Promise<void> = Promise.resolve();
  let closed = false;
  // Held while the client is inside a transaction (or mid-batch after a Flush): releases PGlite's
  // transaction lock.
  let releaseTx: (() => void) | null = null;
  let idleTimer: NodeJS.Timeout | undefined;

  const acquireTx = () =>
    new Promise<void>((acquired) => {
      void db._runExclusiveTransaction(
        () =>
          new Promise<void>((release) => {
            releaseTx = () => {
              releaseTx = null;
              release();
            };
            acquired();
          }),
      );
    });

  const rollbackAndRelease = async () => {
    if (!releaseTx) return;
    try {
      await db._runExclusiveQuery(() => db.execProtocolRaw(new Uint8Array(SIMPLE_QUERY_ROLLBACK)));
    } catch {
      /* the database is closing */
    }
    releaseTx?.();
  };

  const armIdle = () => {
    clearTimeout(idleTimer);
    if (!releaseTx) return;
    idleTimer = setTimeout(() => {
      log(
        `embedded database: a local client was idle in a transaction for ${Math.round(idleMs / 1000)} s; rolled back and disconnected`,
      );
      socket.destroy();
    }, idleMs);
    idleTimer.unref();
  };

  const run = (unit: Buffer, terminate = false) => {
    chain = chain.then(async () => {
      if (closed) return;
      if (terminate) {
        socket.end();
        return;
      }
      clearTimeout(idleTimer);
      if (!releaseTx) await acquireTx();
      let response: Uint8Array;
      try {
        response = await db._runExclusiveQuery(() => db.execProtocolRaw(new Uint8Array(unit)));
      } catch (err) {
        log(`embedded database: a local client's request failed: ${(err as Error).message}`);
        await rollbackAndRelease();
        socket.destroy();
        return;
      }
      const status = lastReadyStatus(response);
      if (status === "I") releaseTx?.();
      if (!closed) socket.write(response);
      armIdle();
    });
  };

  socket.on("data", (data: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, data]) : data;
    for (;;) {
      if (!started) {
        if (buffer.length < 8) return;
        const len = buffer.readInt32BE(0);
        if (len < 8 || len > 10_000) return void socket.destroy();
        if (buffer.length < len) return;
        const code = buffer.readInt32BE(4);
        buffer = buffer.subarray(len);
        if (code === SSL_REQUEST || code === GSS_REQUEST) {
          socket.write("N");
          continue;
        }
        if (code === CANCEL_REQUEST || code !== PROTOCOL_3) return void socket.destroy();
        started = true;
        const key = Buffer.alloc(8);
        key.writeInt32BE(process.pid, 0);
        key.writeInt32BE(randomInt(2 ** 31), 4);
        const ok = Buffer.alloc(4);
        socket.write(Buffer.concat([message("R", ok), params, message("K", key), message("Z", Buffer.from("I"))]));
        continue;
      }
      if (buffer.length < 5) return;
      const len = buffer.readInt32BE(1);
      if (len < 4) return void socket.destroy();
      if (buffer.length < 1 + len) return;
      const msg = buffer.subarray(0, 1 + len);
      buffer = buffer.subarray(1 + len);
      const type = String.fromCharCode(msg[0]!);
      if (type === "X") {
        run(Buffer.alloc(0), true);
        return;
      }
      batch.push(Buffer.from(msg));
      // A simple query, a Sync, a Flush, a function call and COPY messages each end a unit; the
      // extended protocol's Parse/Bind/Describe/Execute/Close wait for their Sync.
      if ("QSHFdcf".includes(type)) {
        const unit = Buffer.concat(batch);
        batch = [];
        run(unit);
      }
    }
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    closed = true;
    clearTimeout(idleTimer);
    chain = chain.then(rollbackAndRelease);
  });
}
