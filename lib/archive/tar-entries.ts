// Mirroring: read a model archive and store each regular file as a blob while it streams past,
// returning the file list (path -> digest, size). All checks are readArchive's.
import type { Readable } from "node:stream";
import type { BlobStore, PutResult } from "../storage/blob-store.ts";
import { readArchive, type ArchiveLimits } from "./read-archive.ts";

export type ArchiveFile = { path: string; digest: string; size: number };

export async function storeArchiveEntries(
  source: Readable,
  store: BlobStore,
  opts: { limits?: ArchiveLimits; onStored?: (put: PutResult) => void } = {},
): Promise<ArchiveFile[]> {
  const files: ArchiveFile[] = [];
  await readArchive(
    source,
    async ({ path, size, stream }) => {
      const put = await store.put(stream, { expectedSize: size });
      opts.onStored?.(put);
      files.push({ path, digest: put.digest, size: put.size });
    },
    { limits: opts.limits },
  );
  return files.sort((a, b) => a.path.localeCompare(b.path));
}
