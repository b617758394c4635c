// Picks the blob store driver from BLOB_STORE_URL, in one place, and holds the process's store.
import { fileURLToPath } from "node:url";
import { getEnv, type Env } from "../env.ts";
import type { BlobStore } from "./blob-store.ts";
import { FsBlobStore } from "./fs-store.ts";
import { S3BlobStore, type S3Options } from "./s3-store.ts";

export {
  BlobNotFoundError,
  DigestMismatchError,
  InvalidDigestError,
  InvalidRangeError,
  SizeMismatchError,
  SourceStreamError,
  StoreUnavailableError,
  computeDigest,
  isDigest,
  parseDigest,
  type BlobListing,
  type BlobSource,
  type BlobStat,
  type BlobStore,
  type ByteRange,
  type Digest,
  type PutOptions,
  type PutResult,
  type StagingListing,
} from "./blob-store.ts";
export { FsBlobStore } from "./fs-store.ts";
export { S3BlobStore, parseS3Url, type S3Options, type S3BlobStoreOptions } from "./s3-store.ts";

/** A store for `file:///abs/dir` or `s3://bucket[/prefix]` (the latter needs `s3` client options). */
export function createBlobStoreFromUrl(url: string, s3?: S3Options): BlobStore {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case "file":
      return new FsBlobStore({ root: fileURLToPath(url) });
    case "s3":
      if (!s3) throw new Error(`the blob store ${url} needs S3 client options (endpoint, region, credentials)`);
      return new S3BlobStore({ url, ...s3 });
    default:
      throw new Error(`unsupported blob store URL "${url}": expected file:///absolute/dir or s3://bucket[/prefix]`);
  }
}

export function createBlobStore(env: Pick<Env, "blobStoreUrl" | "s3">): BlobStore {
  return createBlobStoreFromUrl(env.blobStoreUrl, env.s3);
}

// On globalThis so that Next's dev-mode module reloading and the in-process worker share one store
// (and one S3 connection pool).
const cache = globalThis as { __hubkeepBlobStore?: BlobStore };

/** The process's blob store, built from getEnv() on first use. */
export function getBlobStore(): BlobStore {
  cache.__hubkeepBlobStore ??= createBlobStore(getEnv());
  return cache.__hubkeepBlobStore;
}

/** Replaces the process's blob store (tests); `undefined` makes the next getBlobStore() rebuild it. */
export function setBlobStore(store: BlobStore | undefined): void {
  cache.__hubkeepBlobStore = store;
}
