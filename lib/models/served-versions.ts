// The versions the hub serves (lib/hub): a short-lived, per-process view of a handle's versions and
// of blobs by digest, so that a burst of shard requests costs one query. Versions' bytes never
// change; only statuses do, and a decision made in this process (approval.ts) drops the entry at
// once (other instances see it within TTL_MS).
import { db } from "../db/client.ts";
import type { ModelFormat } from "../formats/format.ts";

export const TTL_MS = 5000;

/** One file of a TF.js version, by its path in the model. */
export type ServableFile = { digest: string; size: number };
/** A version as the hub needs it: its archive (or single TFLite file) and its files by path. */
export type ServableVersion = {
  id: string;
  number: number;
  status: string;
  format: ModelFormat;
  digest: string;
  size: number;
  files: Map<string, ServableFile>;
  /** Set for a deleted version: when and why (its URLs answer 410 Gone saying so). */
  deleted?: { at: Date | null; reason: string | null };
};
/**
 * A handle's versions by number, the highest approved number (null when none is approved), and its
 * aliases (name -> version number).
 */
export type ServableModule = {
  handle: string;
  versions: Map<number, ServableVersion>;
  latestApproved: number | null;
  aliases: Map<string, number>;
};

type Entry = { at: number; value: Promise<ServableModule | null>; settled?: { module: ServableModule | null } };
/** A blob's size and a version that references it, approved when any approved version does. */
export type ServableBlob = { size: number; versionId: string; approved: boolean };

type BlobEntry = { at: number; value: Promise<ServableBlob | null> };
// On globalThis: the page app's bundled modules and the server's own share one cache.
const g = globalThis as unknown as {
  __hubkeepServeCache?: Map<string, Entry>;
  __hubkeepBlobCache?: Map<string, BlobEntry>;
};
const cache = (g.__hubkeepServeCache ??= new Map());
const blobCache = (g.__hubkeepBlobCache ??= new Map());

async function load(handle: string): Promise<ServableModule | null> {
  const prisma = await db();
  const m = await prisma.module.findUnique({
    where: { handle },
    include: {
      versions: { include: { files: { select: { path: true, digest: true, size: true } } } },
      aliases: { select: { name: true, version: { select: { number: true } } } },
    },
  });
  if (!m) return null;
  const versions = new Map<number, ServableVersion>();
  let latestApproved: number | null = null;
  for (const v of m.versions) {
    versions.set(v.number, {
      id: v.id,
      number: v.number,
      status: v.status,
      format: v.format,
      digest: v.digest,
      size: Number(v.size),
      files: new Map(v.files.map((f) => [f.path, { digest: f.digest, size: Number(f.size) }])),
      ...(v.status === "deleted" ? { deleted: { at: v.deletedAt, reason: v.deletionReason } } : {}),
    });
    if (v.status === "approved" && (latestApproved === null || v.number > latestApproved)) latestApproved = v.number;
  }
  const aliases = new Map(m.aliases.map((a) => [a.name, a.version.number]));
  return { handle: m.handle, versions, latestApproved, aliases };
}

/** The module and its versions, from cache when fresh. */
export function getServable(handle: string): Promise<ServableModule | null> {
  const now = Date.now();
  const hit = cache.get(handle);
  if (hit && now - hit.at < TTL_MS) return hit.value;
  const value = load(handle);
  const entry: Entry = { at: now, value };
  cache.set(handle, entry);
  value.then(
    (module) => (entry.settled = { module }),
    () => cache.delete(handle),
  );
  if (cache.size > 10_000) cache.delete(cache.keys().next().value);
  return value;
}

/** The cached module when it is fresh and loaded (no await on the hot path), else undefined. */
export function peekServable(handle: string): ServableModule | null | undefined {
  const hit = cache.get(handle);
  if (!hit?.settled || Date.now() - hit.at >= TTL_MS) return undefined;
  return hit.settled.module;
}

/** Drops a handle after a decision in this process. */
export function forgetServable(handle: string): void {
  cache.delete(handle);
  blobCache.clear();
}

/** A blob's size and whether an approved version references it (as its archive or as a file). */
export function getServableBlob(digest: string): Promise<ServableBlob | null> {
  const now = Date.now();
  const hit = blobCache.get(digest);
  if (hit && now - hit.at < TTL_MS) return hit.value;
  const value = (async () => {
    const prisma = await db();
    const blob = await prisma.blob.findUnique({ where: { digest } });
    if (!blob) return null;
    const approved =
      (await prisma.version.findFirst({ where: { digest, status: "approved" }, select: { id: true } })) ??
      (await prisma.version.findFirst({
        where: { status: "approved", files: { some: { digest } } },
        select: { id: true },
      }));
    if (approved) return { size: Number(blob.size), versionId: approved.id, approved: true };
    // Unapproved (admins may read them), never a deleted version's: its bytes are not served again.
    const live = { status: { not: "deleted" as const } };
    const any =
      (await prisma.version.findFirst({ where: { digest, ...live }, select: { id: true } })) ??
      (await prisma.version.findFirst({ where: { files: { some: { digest } }, ...live }, select: { id: true } }));
    return any ? { size: Number(blob.size), versionId: any.id, approved: false } : null;
  })();
  blobCache.set(digest, { at: now, value });
  value.catch(() => blobCache.delete(digest));
  if (blobCache.size > 10_000) blobCache.delete(blobCache.keys().next().value);
  return value;
}

export function clearServeCaches(): void {
  cache.clear();
  blobCache.clear();
}
