// Mirroring and uploads: read a model archive (lib/archive) and store each regular file as a blob of
// its own, returning the file list (path -> digest, size). All checks are readArchive's.
//
// Small files are held in memory (up to HELD_BYTES in all) and stored only once the whole archive has
// passed its checks, a few at a time: an archive refused for its entry count or ratio therefore stores
// (and leaves) nothing of them, and is refused as fast as its headers can be read. A file above
// SMALL_FILE_BYTES streams straight into the store, as does the held set whenever it fills up.
import { Readable } from "node:stream";
import type { BlobStore, PutResult } from "../storage/blob-store.ts";
import { readArchive, type ArchiveLimits } from "../archive/read-archive.ts";

/** One stored file of an archive: its root-relative path and the blob holding its bytes. */
export type ArchiveFile = { path: string; digest: string; size: number };

const SMALL_FILE_BYTES = 1024 * 1024;
const HELD_BYTES = 64 * 1024 * 1024;
const PUT_CONCURRENCY = 8;

/** Stores every regular file of the archive `source` in `store`; `onStored` sees each put (to undo new blobs on failure). */
export async function storeArchiveEntries(
  source: Readable,
  store: BlobStore,
  opts: { limits?: ArchiveLimits; onStored?: (put: PutResult) => void; signal?: AbortSignal } = {},
): Promise<ArchiveFile[]> {
  const files: ArchiveFile[] = [];
  let held: Array<{ path: string; bytes: Buffer }> = [];
  let heldBytes = 0;
  const stored = (path: string, put: PutResult) => {
    opts.onStored?.(put);
    files.push({ path, digest: put.digest, size: put.size });
  };
  const flush = async () => {
    const batch = held;
    held = [];
    heldBytes = 0;
    let next = 0;
    const lane = async () => {
      while (next < batch.length) {
        const item = batch[next++]!;
        stored(item.path, await store.put(Readable.from([item.bytes]), { expectedSize: item.bytes.length }));
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUT_CONCURRENCY, batch.length) }, lane));
  };
  await readArchive(
    source,
    async ({ path, size, stream }) => {
      if (size > SMALL_FILE_BYTES) {
        stored(path, await store.put(stream, { expectedSize: size }));
        return;
      }
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      const bytes = Buffer.concat(chunks);
      held.push({ path, bytes });
      heldBytes += bytes.length;
      if (heldBytes >= HELD_BYTES) await flush();
    },
    { limits: opts.limits, signal: opts.signal },
  );
  await flush();
  return files.sort((a, b) => a.path.localeCompare(b.path));
}
