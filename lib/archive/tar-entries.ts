// Streaming read of a model archive (gzip'd or plain tar): each regular file is stored as a blob
// while it streams past, and the file list (path -> digest, size) is returned. Used when mirroring,
// to record what a version holds. Refuses what is obviously not a module archive; the full safety
// rules (limits, name collisions) are applied again by the validator's extraction.
import { Readable } from "node:stream";
import zlib from "node:zlib";
import tar from "tar-stream";
import { AppError } from "../errors.ts";
import type { BlobStore } from "../storage/blob-store.ts";

export type ArchiveFile = { path: string; digest: string; size: number };

export type ReadArchiveLimits = { maxEntries?: number; maxTotalBytes?: number };

const TYPE_NAMES: Record<string, string> = {
  symlink: "a symlink: links are not allowed",
  link: "a hard link: links are not allowed",
  "character-device": "a character device",
  "block-device": "a block device",
  fifo: "a FIFO",
  "contiguous-file": "a contiguous file",
};

function bad(message: string): AppError {
  return new AppError("unprocessable_entity", message);
}

/** Normalises an archive entry name to a relative path, or throws naming what is wrong with it. */
export function normaliseEntryName(name: string): string {
  if (name.includes("\0")) throw bad(`archive entry ${JSON.stringify(name)} has a NUL byte in its name`);
  let p = name.replace(/\\/g, "/");
  if (p.startsWith("/") || /^[a-zA-Z]:/.test(p)) throw bad(`archive entry '${name}' has an absolute path`);
  p = p.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
  const segs = p.split("/").filter((s) => s !== "" && s !== ".");
  if (segs.includes("..")) throw bad(`archive entry '${name}' escapes the archive with '..'`);
  return segs.join("/");
}

/** Reads `source` as a (gzip'd) tar and stores each regular file. Throws 422 with the reason. */
export async function storeArchiveEntries(source: Readable, store: BlobStore, limits: ReadArchiveLimits = {}): Promise<ArchiveFile[]> {
  const maxEntries = limits.maxEntries ?? 100_000;
  const maxTotal = limits.maxTotalBytes ?? 64 * 1024 ** 3;
  const files: ArchiveFile[] = [];
  const seen = new Set<string>();
  let entries = 0;
  let total = 0;

  // Peek at the first bytes to choose gzip or plain tar.
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) throw bad("archive is empty");
  const head = Buffer.from(first.value as Buffer);
  async function* rest() {
    yield head;
    for (;;) {
      const n = await iterator.next();
      if (n.done) return;
      yield n.value as Buffer;
    }
  }
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  if (!gzip && !(head.length >= 262 && head.subarray(257, 262).toString("latin1") === "ustar")) {
    const text = head.subarray(0, 64).toString("utf8").replace(/[^\x20-\x7e]/g, ".");
    throw bad(`not a tar or tar.gz archive (starts with "${text}")`);
  }
  const raw = Readable.from(rest());
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      (async () => {
        entries++;
        if (entries > maxEntries) throw bad(`archive has more than ${maxEntries} entries`);
        const path = normaliseEntryName(header.name);
        const type = header.type ?? "file";
        if (type === "directory") {
          stream.resume();
          return;
        }
        if (type !== "file") throw bad(`archive entry '${header.name}' is ${TYPE_NAMES[type] ?? `of type ${type}`}`);
        if (!path) throw bad(`archive entry '${header.name}' has an empty name`);
        if (seen.has(path)) throw bad(`archive entry '${path}' appears twice`);
        seen.add(path);
        total += header.size ?? 0;
        if (total > maxTotal) throw bad(`archive expands to more than ${maxTotal} bytes`);
        const put = await store.put(stream as unknown as Readable, { expectedSize: header.size });
        files.push({ path, digest: put.digest, size: put.size });
      })().then(
        () => next(),
        (err) => {
          stream.resume();
          extract.destroy(err);
        },
      );
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  const input = gzip ? raw.pipe(zlib.createGunzip()) : raw;
  input.on("error", (err: Error) => extract.destroy(bad(`archive is corrupt or truncated: ${err.message}`)));
  input.pipe(extract);
  try {
    await done;
  } catch (err) {
    raw.destroy();
    if (err instanceof AppError) throw err;
    throw bad(`archive is corrupt or truncated: ${(err as Error).message}`);
  }
  if (files.length === 0) throw bad("archive holds no files");
  return files.sort((a, b) => a.path.localeCompare(b.path));
}
