// Hostile model archives, made in a temp dir: many tiny entries, a gzip bomb, special mode bits.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";

/** One ustar header block (512 bytes) for a regular file or directory. */
export function tarHeader(
  name: string,
  size: number,
  opts: { mode?: number; type?: "file" | "directory" } = {},
): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  h.write(`${(opts.mode ?? 0o644).toString(8).padStart(7, "0")}\0`, 100, 8, "latin1");
  h.write("0000000\0", 108, 8, "latin1");
  h.write("0000000\0", 116, 8, "latin1");
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124, 12, "latin1");
  h.write(
    `${Math.floor(Date.UTC(2026, 0, 1) / 1000)
      .toString(8)
      .padStart(11, "0")}\0`,
    136,
    12,
    "latin1",
  );
  h.write(opts.type === "directory" ? "5" : "0", 156, 1, "latin1");
  h.write("ustar\0", 257, 6, "latin1");
  h.write("00", 263, 2, "latin1");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return h;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

/** A tar.gz of a saved_model.pb plus `n` one-byte files (the 100,000-entry archive of the issue). */
export async function writeManyEntriesArchive(file: string, n: number): Promise<string> {
  const body = Buffer.concat([Buffer.from("x"), pad(1)]);
  // A thousand entries per chunk: one write per entry into gzip is many times slower.
  function* blocks() {
    let batch: Buffer[] = [tarHeader("saved_model.pb", 1), body];
    for (let i = 0; i < n; i++) {
      batch.push(tarHeader(`assets/f${i}`, 1), body);
      if (batch.length >= 2000) {
        yield Buffer.concat(batch);
        batch = [];
      }
    }
    yield Buffer.concat([...batch, Buffer.alloc(1024)]);
  }
  await pipeline(Readable.from(blocks()), zlib.createGzip({ level: 9 }), fs.createWriteStream(file));
  return file;
}

/**
 * A tar.gz whose one entry is `bytes` zeros: about 1000:1, the shape of a decompression bomb. Built
 * as concatenated gzip members (gunzip reads them as one stream), so 16 MiB of zeros is compressed
 * once and repeated instead of compressing all of it.
 */
export async function writeGzipBomb(file: string, bytes: number): Promise<string> {
  const block = 16 * 1024 * 1024;
  const member = zlib.gzipSync(Buffer.alloc(block), { level: 9 });
  const out = fs.createWriteStream(file);
  function* members() {
    yield zlib.gzipSync(tarHeader("saved_model.pb", bytes), { level: 9 });
    let left = bytes;
    for (; left >= block; left -= block) yield member;
    if (left > 0) yield zlib.gzipSync(Buffer.alloc(left), { level: 9 });
    yield zlib.gzipSync(Buffer.concat([pad(bytes), Buffer.alloc(1024)]), { level: 9 });
  }
  await pipeline(Readable.from(members()), out);
  return file;
}

/** A small tar.gz with the given entries (raw headers, so any mode bits can be set). */
export function writeTarGz(
  file: string,
  entries: Array<{ name: string; body?: string; mode?: number; type?: "file" | "directory" }>,
): string {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? "");
    parts.push(tarHeader(e.name, e.type === "directory" ? 0 : body.length, { mode: e.mode, type: e.type }));
    if (e.type !== "directory") parts.push(body, pad(body.length));
  }
  parts.push(Buffer.alloc(1024));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, zlib.gzipSync(Buffer.concat(parts)));
  return file;
}
