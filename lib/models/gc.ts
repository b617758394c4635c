// Garbage collection (`npm run gc`): deletes blobs that no version references and staging leftovers
// of crashed uploads, and reclaims the bytes of blobs only deleted versions reference (their rows
// stay, marked `reclaimedAt`: a deleted version's document keeps its manifest). Dry run by default. Never touches anything younger than the grace period (a
// publish may be in flight), and takes the GC advisory lock exclusively while it deletes, so a
// publish (which holds it shared while it commits) never ends up referencing a deleted blob.
import { db } from "../db/client.ts";
import type { Prisma } from "../db/generated/client.ts";
import { getBlobStore } from "../storage/index.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import { recordAudit } from "./audit.ts";
import type { Principal } from "../auth/principal.ts";

/** The advisory lock key publish (shared) and GC (exclusive) agree on. */
export const GC_LOCK_SQL_KEY = "hashtext('hubkeep.gc')";

export type GcReport = {
  apply: boolean;
  graceSeconds: number;
  orphanBlobs: Array<{ digest: string; size: number; lastModified: string }>;
  orphanRows: string[];
  stagingLeftovers: Array<{ id: string; size: number; lastModified: string }>;
  /** Stored blobs that only deleted versions reference: their bytes go, their rows stay. */
  reclaimable: Array<{ digest: string; size: number }>;
  skippedYoung: number;
  reclaimedBlobs: number;
  deletedBlobs: number;
  deletedRows: number;
  deletedStaging: number;
  bytesFreed: number;
};

export async function collectGarbage(opts: {
  apply: boolean;
  graceSeconds?: number;
  now?: Date;
  actor?: Principal | null;
  store?: BlobStore;
}): Promise<GcReport> {
  const prisma = await db();
  const store = opts.store ?? getBlobStore();
  const graceSeconds = opts.graceSeconds ?? 24 * 3600;
  const cutoff = (opts.now ?? new Date()).getTime() - graceSeconds * 1000;

  const referenced = async (digests: string[]) => findReferences(prisma, digests);

  const report: GcReport = {
    apply: opts.apply,
    graceSeconds,
    orphanBlobs: [],
    orphanRows: [],
    stagingLeftovers: [],
    reclaimable: [],
    skippedYoung: 0,
    reclaimedBlobs: 0,
    deletedBlobs: 0,
    deletedRows: 0,
    deletedStaging: 0,
    bytesFreed: 0,
  };

  // Stored blobs that nothing references.
  const batch: Array<{ digest: string; size: number; lastModified: Date }> = [];
  const flush = async () => {
    const refs = await referenced(batch.map((b) => b.digest));
    for (const b of batch) {
      if (refs.live.has(b.digest)) continue;
      if (refs.any.has(b.digest)) {
        report.reclaimable.push({ digest: b.digest, size: b.size });
        continue;
      }
      if (b.lastModified.getTime() > cutoff) report.skippedYoung++;
      else report.orphanBlobs.push({ digest: b.digest, size: b.size, lastModified: b.lastModified.toISOString() });
    }
    batch.length = 0;
  };
  for await (const b of store.list()) {
    batch.push(b);
    if (batch.length >= 500) await flush();
  }
  await flush();

  // Blob rows that nothing references (their bytes may or may not still be stored).
  const rows = await prisma.blob.findMany({
    where: { versions: { none: {} }, files: { none: {} }, createdAt: { lt: new Date(cutoff) } },
    select: { digest: true },
  });
  report.orphanRows = rows.map((r) => r.digest);

  if (store.listStaging) {
    for await (const s of store.listStaging()) {
      if (s.lastModified.getTime() <= cutoff)
        report.stagingLeftovers.push({ id: s.id, size: s.size, lastModified: s.lastModified.toISOString() });
    }
  }

  if (!opts.apply) return report;

  const candidates = [...new Set([...report.orphanBlobs.map((b) => b.digest), ...report.orphanRows])];
  const sizes = new Map(report.orphanBlobs.map((b) => [b.digest, b.size]));
  for (let i = 0; i < candidates.length; i += 200) {
    const done = await deleteUnreferenced(candidates.slice(i, i + 200), store, (d) => sizes.has(d));
    report.deletedRows += done.rows;
    report.deletedBlobs += done.blobs.length;
    for (const d of done.blobs) report.bytesFreed += sizes.get(d)!;
  }
  for (let i = 0; i < report.reclaimable.length; i += 200) {
    const chunk = report.reclaimable.slice(i, i + 200);
    const done = await reclaimDeletedOnly(
      chunk.map((b) => b.digest),
      store,
    );
    const sizes = new Map(chunk.map((b) => [b.digest, b.size]));
    report.reclaimedBlobs += done.length;
    for (const d of done) report.bytesFreed += sizes.get(d)!;
  }
  if (store.deleteStaging) {
    for (const s of report.stagingLeftovers) {
      await store.deleteStaging(s.id);
      report.deletedStaging++;
      report.bytesFreed += s.size;
    }
  }
  await recordAudit({
    actor: opts.actor ?? null,
    action: "gc.apply",
    details: {
      deletedBlobs: report.deletedBlobs,
      deletedRows: report.deletedRows,
      deletedStaging: report.deletedStaging,
      reclaimedBlobs: report.reclaimedBlobs,
      bytesFreed: report.bytesFreed,
    },
  });
  return report;
}

/**
 * The one deletion path for blobs: under the exclusive GC lock (which waits for publishes in flight
 * and holds new ones off), re-checks that no version references each digest, then deletes the
 * blob rows and the stored bytes (those `inStore` says are stored).
 */
async function deleteUnreferenced(
  digests: string[],
  store: BlobStore,
  inStore: (digest: string) => boolean = () => true,
): Promise<{ rows: number; blobs: string[] }> {
  const prisma = await db();
  return prisma.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${GC_LOCK_SQL_KEY})`);
      const [v, f] = await Promise.all([
        tx.version.findMany({ where: { digest: { in: digests } }, select: { digest: true } }),
        tx.versionFile.findMany({ where: { digest: { in: digests } }, select: { digest: true }, distinct: ["digest"] }),
      ]);
      const used = new Set([...v.map((r) => r.digest), ...f.map((r) => r.digest)]);
      const doomed = [...new Set(digests)].filter((d) => !used.has(d));
      const rows = (await tx.blob.deleteMany({ where: { digest: { in: doomed } } })).count;
      const blobs: string[] = [];
      for (const d of doomed.filter(inStore)) {
        await store.delete(d);
        blobs.push(d);
      }
      return { rows, blobs };
    },
    { timeout: 120_000 },
  );
}

type RefReader = Pick<Prisma.TransactionClient, "version" | "versionFile">;

/** Which of `digests` any version references (`any`), and which a version not deleted does (`live`). */
async function findReferences(q: RefReader, digests: string[]): Promise<{ any: Set<string>; live: Set<string> }> {
  if (digests.length === 0) return { any: new Set(), live: new Set() };
  const [v, f] = await Promise.all([
    q.version.findMany({ where: { digest: { in: digests } }, select: { digest: true, status: true } }),
    q.versionFile.findMany({
      where: { digest: { in: digests } },
      select: { digest: true, version: { select: { status: true } } },
    }),
  ]);
  const any = new Set([...v.map((r) => r.digest), ...f.map((r) => r.digest)]);
  const live = new Set([
    ...v.filter((r) => r.status !== "deleted").map((r) => r.digest),
    ...f.filter((r) => r.version.status !== "deleted").map((r) => r.digest),
  ]);
  return { any, live };
}

/**
 * Reclaims the bytes of blobs only deleted versions reference: under the exclusive GC lock,
 * re-checks that no live version references each, deletes the stored bytes and marks the row.
 */
async function reclaimDeletedOnly(digests: string[], store: BlobStore): Promise<string[]> {
  const prisma = await db();
  return prisma.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${GC_LOCK_SQL_KEY})`);
      const refs = await findReferences(tx, digests);
      const doomed = digests.filter((d) => refs.any.has(d) && !refs.live.has(d));
      for (const d of doomed) await store.delete(d);
      await tx.blob.updateMany({ where: { digest: { in: doomed } }, data: { reclaimedAt: new Date() } });
      return doomed;
    },
    { timeout: 120_000 },
  );
}

/** Deletes blobs a failed operation created, unless a version references them (another publish may have reached the same bytes). */
export async function discardUnreferencedBlobs(digests: string[], store: BlobStore = getBlobStore()): Promise<number> {
  if (digests.length === 0) return 0;
  return (await deleteUnreferenced(digests, store)).blobs.length;
}
