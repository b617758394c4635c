// PGlite is a single-process database: two processes opening the same data dir would corrupt it. The
// server holds this lock while it runs; CLI commands that open the embedded database take it too.
// A server that shares its database (lib/db/pglite-socket.ts) records the socket in the lock file,
// and other local processes then connect through it instead of opening the files.
import fs from "node:fs";
import path from "node:path";
import { AppError } from "../errors.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export type DataDirLock = { pid: number; holder?: string; since?: string; socket?: string };

function lockFile(dataDir: string): string {
  return path.join(dataDir, "hubkeep.lock");
}

/** The live process holding the data dir's lock, or null when it is free (or its holder died). */
export function readDataDirLock(dataDir: string): DataDirLock | null {
  try {
    const info = JSON.parse(fs.readFileSync(lockFile(dataDir), "utf8")) as DataDirLock;
    return info.pid && info.pid !== process.pid && alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/** Records, in the lock this process holds, the socket other processes reach its database on. */
export function recordSharedSocket(dataDir: string, socket: string | undefined): void {
  const file = lockFile(dataDir);
  const info = JSON.parse(fs.readFileSync(file, "utf8")) as DataDirLock;
  if (info.pid !== process.pid) throw new Error(`${file} is not held by this process`);
  const next = { ...info, socket };
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(next));
  fs.renameSync(tmp, file);
}

/** Takes the embedded database's lock; throws naming the holder if another live process has it. */
export function lockDataDir(dataDir: string, holder: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = lockFile(dataDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, "wx");
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, holder, since: new Date().toISOString() }));
      fs.closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        try {
          const cur = JSON.parse(fs.readFileSync(file, "utf8")) as { pid: number };
          if (cur.pid === process.pid) fs.unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
      process.once("exit", release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // An unreadable lock, or one whose holder died, is stale.
      const info = readDataDirLock(dataDir);
      if (info) {
        throw new AppError(
          "service_unavailable",
          `the embedded database in ${dataDir} is in use by ${info.holder ?? "another process"} (pid ${info.pid}); stop it first, or set DATABASE_URL to use PostgreSQL`,
        );
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new AppError("service_unavailable", `cannot lock ${file}`);
}
