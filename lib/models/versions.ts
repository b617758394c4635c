// Versions are immutable manifests: a primary archive digest (the exact bytes served for
// ?tf-hub-format=compressed, or the .tflite) plus a file list (path -> blob digest, size).
// publishVersion commits nothing to the database until every blob is in the store, then creates
// the module (if new), the blob rows, the version and its files in one transaction. The
// (module, number) unique constraint is the commit point: a second publish of the same bytes is an
// idempotent success; different bytes are a 409, audited. The database refuses changes to a
// version's bytes or file list (trigger migration), so no code path can rewrite one.
import type { ModelFormat, ModuleSource, Prisma, VersionStatus } from "../db/generated/client.ts";
import { db } from "../db/client.ts";
import { forgetCatalogueCache } from "./catalogue.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "./audit.ts";
import { checkHandle } from "../upstream/handles.ts";
import { isVersionNumber } from "../handle-path.ts";
import { getBlobStore } from "../storage/index.ts";
import { isDigest, type BlobStore } from "../storage/blob-store.ts";
import { blobPath } from "../storage/layout.ts";
import { actorUserId, type Principal } from "../auth/principal.ts";
import { GC_LOCK_SQL_KEY } from "./gc.ts";
import { VERSION_TRANSITIONS } from "./version-status.ts";
import { enforceQuotas, announceQuotaWarnings, type QuotaCrossing } from "./quotas.ts";
import { emitVersionEvent } from "./webhooks.ts";
import { versionEventFor } from "../webhooks/events.ts";

export type VersionFileInput = { path: string; digest: string; size: number };

export type PublishVersionInput = {
  handle: string;
  version: number;
  format: ModelFormat;
  source: { kind: "upstream"; url: string; fetchedAt: Date } | { kind: "upload"; userId: string | null };
  primary: { digest: string; size: number };
  files: VersionFileInput[];
  actor: Principal | null;
  ip?: string | null;
  /**
   * Runs inside the publish transaction once the version row exists, for state that must change in
   * the same commit as the version's appearance (the mirror request that fetched it). Not called when
   * the version already existed.
   */
  withinPublish?: (tx: Prisma.TransactionClient, version: { id: string }) => Promise<void>;
  /** Test hook: called between the steps of a publish (crash-safety and race tests pause there). */
  onStep?: (step: PublishStep) => Promise<void>;
};

export type PublishStep = "blobs-checked" | "in-transaction" | "before-commit";

export type PublishedVersion = {
  id: string;
  handle: string;
  version: number;
  status: string;
  digest: string;
  size: bigint;
  created: boolean;
};

function checkFilePath(p: string): string {
  if (!p || p.length > 1024)
    throw new AppError("unprocessable_entity", `file path "${p.slice(0, 80)}" is empty or too long`);
  if (p.startsWith("/") || p.includes("\\") || p.includes("\0") || /^[a-zA-Z]:/.test(p)) {
    throw new AppError("unprocessable_entity", `file path "${p}" must be relative`);
  }
  if (p.split("/").some((s) => s === "" || s === "." || s === ".."))
    throw new AppError("unprocessable_entity", `file path "${p}" has an empty, "." or ".." segment`);
  return p;
}

function checkBlobRef(what: string, ref: { digest: string; size: number }) {
  if (!isDigest(ref.digest)) throw new AppError("unprocessable_entity", `${what}: invalid digest "${ref.digest}"`);
  if (!Number.isSafeInteger(ref.size) || ref.size < 0)
    throw new AppError("unprocessable_entity", `${what}: invalid size ${ref.size}`);
}

function manifestKey(primary: string, files: Array<{ path: string; digest: string; size: number | bigint }>): string {
  return JSON.stringify([
    primary,
    [...files].map((f) => [f.path, f.digest, Number(f.size)]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
  ]);
}

/** Checks every referenced blob is committed in the store with the stated size. */
async function assertBlobsStored(store: BlobStore, refs: Array<{ digest: string; size: number }>): Promise<void> {
  const unique = new Map(refs.map((r) => [r.digest, r.size]));
  await Promise.all(
    [...unique].map(async ([digest, size]) => {
      const st = await store.stat(digest);
      if (!st) throw new AppError("conflict", `blob ${digest} is not in the store: put it before publishing`);
      if (st.size !== size)
        throw new AppError("conflict", `blob ${digest} is ${st.size} bytes in the store, not ${size}`);
    }),
  );
}

export async function publishVersion(input: PublishVersionInput): Promise<PublishedVersion> {
  const handle = checkHandle(input.handle);
  if (!isVersionNumber(input.version))
    throw new AppError("unprocessable_entity", `version must be a positive integer, got ${input.version}`);
  checkBlobRef("primary", input.primary);
  const seen = new Set<string>();
  for (const f of input.files) {
    checkFilePath(f.path);
    checkBlobRef(f.path, f);
    if (seen.has(f.path)) throw new AppError("unprocessable_entity", `file path "${f.path}" is listed twice`);
    seen.add(f.path);
  }

  const store = getBlobStore();

  const prisma = await db();
  const sourceKind: ModuleSource = input.source.kind;
  const publisher = handle.split("/")[0]!;
  const blobRows = new Map<string, number>([
    [input.primary.digest, input.primary.size],
    ...input.files.map((f) => [f.digest, f.size] as [string, number]),
  ]);

  let crossings: QuotaCrossing[] = [];
  try {
    // One transaction: module, blob rows, version and files appear together or not at all.
    const created = await prisma.$transaction(async (tx) => {
      // Shared GC lock, then re-check the blobs: GC deletes only under the exclusive lock, so once
      // this holds, every blob checked here stays until the version that references it commits.
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock_shared(${GC_LOCK_SQL_KEY})`);
      // Every blob must already be committed to the store: no version may reference missing bytes.
      await assertBlobsStored(store, [input.primary, ...input.files]);
      await input.onStep?.("blobs-checked");
      let mod = await tx.module.findUnique({ where: { handle } });
      if (!mod) {
        mod = await tx.module.create({
          data: {
            handle,
            source: sourceKind,
            publisher,
            upstreamUrl: input.source.kind === "upstream" ? input.source.url.replace(/\/\d+$/, "") : null,
            createdById: actorUserId(input.actor),
          },
        });
      } else if (mod.source !== sourceKind) {
        throw new AppError(
          "conflict",
          mod.source === "upstream"
            ? `"${handle}" mirrors an upstream model: uploads must use their own handle`
            : `"${handle}" holds uploaded models: it cannot also mirror an upstream`,
        );
      }
      await tx.blob.createMany({
        data: [...blobRows].map(([digest, size]) => ({ digest, size: BigInt(size), storageKey: blobPath(digest) })),
        skipDuplicates: true,
      });
      // A blob gc reclaimed (only deleted versions held it) is stored again: checked above, live now.
      await tx.blob.updateMany({
        where: { digest: { in: [...blobRows.keys()] }, reclaimedAt: { not: null } },
        data: { reclaimedAt: null },
      });
      await input.onStep?.("in-transaction");
      const version = await tx.version.create({
        data: {
          moduleId: mod.id,
          number: input.version,
          format: input.format,
          status: "pending",
          digest: input.primary.digest,
          size: BigInt(input.primary.size),
          sourceUrl: input.source.kind === "upstream" ? input.source.url : null,
          fetchedAt: input.source.kind === "upstream" ? input.source.fetchedAt : null,
          uploadedById: input.source.kind === "upload" ? input.source.userId : null,
          files: {
            createMany: { data: input.files.map((f) => ({ path: f.path, digest: f.digest, size: BigInt(f.size) })) },
          },
        },
      });
      await tx.module.update({ where: { id: mod.id }, data: { updatedAt: new Date() } });
      // The one quota check that decides: the version counted, under each quota's lock.
      crossings = await enforceQuotas(tx, handle);
      await input.withinPublish?.(tx, version);
      // version.created commits with the version (lib/models/webhooks.ts).
      await emitVersionEvent("version.created", version.id, tx);
      await recordAudit(
        {
          actor: input.actor,
          action: "version.publish",
          ip: input.ip,
          targetType: "version",
          target: `${handle}/${input.version}`,
          details: {
            digest: input.primary.digest,
            size: input.primary.size,
            files: input.files.length,
            source: input.source.kind,
          },
        },
        tx,
      );
      await input.onStep?.("before-commit");
      return version;
    });
    forgetCatalogueCache();
    await announceQuotaWarnings(crossings);
    return {
      id: created.id,
      handle,
      version: created.number,
      status: created.status,
      digest: created.digest,
      size: created.size,
      created: true,
    };
  } catch (err) {
    if ((err as { code?: string }).code !== "P2002") throw err;
    // The version exists: the same manifest is an idempotent success, anything else a conflict.
    const existing = await findVersion(handle, input.version, { files: true });
    if (!existing) throw err;
    if (existing.status === "deleted")
      throw new AppError(
        "conflict",
        `${handle} version ${input.version} was deleted${existing.deletedAt ? ` on ${existing.deletedAt.toISOString()}` : ""}: version numbers are never reused, publish a new number`,
        { status: existing.status },
      );
    const same = manifestKey(existing.digest, existing.files) === manifestKey(input.primary.digest, input.files);
    if (same) {
      return {
        id: existing.id,
        handle,
        version: existing.number,
        status: existing.status,
        digest: existing.digest,
        size: existing.size,
        created: false,
      };
    }
    await recordAudit({
      actor: input.actor,
      action: "version.publish.conflict",
      outcome: "denied",
      ip: input.ip,
      targetType: "version",
      target: `${handle}/${input.version}`,
      details: { existingDigest: existing.digest, attemptedDigest: input.primary.digest },
    });
    throw new AppError(
      "conflict",
      `${handle} version ${input.version} already exists with other bytes (${existing.digest}); versions are immutable: publish a new version number`,
    );
  }
}

export { VERSION_TRANSITIONS };

type VersionWriter = Pick<Prisma.TransactionClient, "version">;

export type TransitionOptions = {
  /** Runs inside this transaction instead of on its own. */
  tx?: Prisma.TransactionClient;
  /** Further conditions the row must meet for the change to happen (e.g. an unchanged `updatedAt`). */
  where?: Prisma.VersionWhereInput;
};

/**
 * The only way a version's status changes: one compare-and-set statement, so of several concurrent
 * callers moving a version out of the same status exactly one wins. Returns whether this call made
 * the change; a loser must do nothing further. Throws (a programming error) for a transition not
 * in VERSION_TRANSITIONS.
 */
export async function transitionVersion(
  id: string,
  from: readonly VersionStatus[],
  to: VersionStatus,
  data: Omit<Prisma.VersionUncheckedUpdateManyInput, "status" | "id"> = {},
  opts: TransitionOptions = {},
): Promise<boolean> {
  const illegal = from.filter((f) => !VERSION_TRANSITIONS[f].includes(to));
  if (from.length === 0 || illegal.length)
    throw new Error(
      `version status transition ${illegal.length ? illegal.join("|") : "(none)"} -> ${to} is not allowed`,
    );
  const write = async (writer: VersionWriter) =>
    (
      await writer.version.updateMany({
        where: { ...opts.where, id, status: { in: [...from] } },
        data: { ...data, status: to },
      })
    ).count === 1;
  // A status that sends a webhook event (version.validated, …) changes in one transaction with the
  // event's deliveries, so the event exists exactly when the change committed.
  const event = versionEventFor(to);
  if (!event) return write(opts.tx ?? (await db()));
  const withEvent = async (tx: Prisma.TransactionClient) => {
    const changed = await write(tx);
    if (changed) await emitVersionEvent(event, id, tx);
    return changed;
  };
  return opts.tx ? withEvent(opts.tx) : (await db()).$transaction(withEvent);
}

/**
 * transitionVersion for callers that answer a request: a lost race is a 409 naming the status the
 * version is in now (`details.status`); `message` words it for the caller.
 */
export async function transitionVersionOrThrow(
  id: string,
  from: readonly VersionStatus[],
  to: VersionStatus,
  data: Omit<Prisma.VersionUncheckedUpdateManyInput, "status" | "id">,
  opts: TransitionOptions & { message: (current: VersionStatus | "deleted") => string },
): Promise<void> {
  if (await transitionVersion(id, from, to, data, opts)) return;
  const current =
    (await (opts.tx ?? (await db())).version.findUnique({ where: { id }, select: { status: true } }))?.status ??
    "deleted";
  throw new AppError("conflict", opts.message(current), { status: current });
}

/** One version by handle (any case) and number, with what `include` asks for; null if there is none. */
export async function findVersion<I extends Prisma.VersionInclude = Record<string, never>>(
  handle: string,
  version: number,
  include?: I,
): Promise<Prisma.VersionGetPayload<{ include: I }> | null> {
  const prisma = await db();
  return prisma.version.findFirst({
    where: { number: version, module: { handle: handle.toLowerCase() } },
    include: include ?? ({} as I),
  });
}

/** A version with its files, for the API and pages. */
export async function getVersion(handle: string, version: number) {
  return findVersion(handle, version, { files: { orderBy: { path: "asc" } }, module: true });
}

/** The contract's version document: bytes, files, the latest validation (with its level) and benchmarks. */
export async function getVersionView(handle: string, version: number) {
  const prisma = await db();
  const v = await findVersion(handle, version, {
    files: { orderBy: { path: "asc" } },
    module: true,
    uploadedBy: { select: { email: true } },
    approvedBy: { select: { email: true } },
    deletedBy: { select: { email: true } },
    validationRuns: { orderBy: { startedAt: "desc" }, include: { benchmarks: { orderBy: { batch: "asc" } } } },
  });
  if (!v) return null;
  const [run, ...history] = v.validationRuns;
  const downloads = await prisma.downloadCount.aggregate({ where: { versionId: v.id }, _sum: { count: true } });
  return {
    handle: v.module.handle,
    version: v.number,
    format: v.format,
    status: v.status,
    digest: v.digest,
    size: v.size,
    createdAt: v.createdAt,
    downloads: downloads._sum.count ?? 0,
    files: v.files.map((f) => ({ path: f.path, digest: f.digest, size: f.size })),
    validation: run
      ? {
          id: run.id,
          status: run.status,
          level: run.level,
          runtime: run.runtime,
          backend: run.backend,
          signatures: run.signatures,
          execution: run.execution,
          findings: run.findings,
          isolation: run.isolation,
          startedAt: run.startedAt,
          finishedAt: run.finishedAt,
          ...(run.error ? { error: run.error } : {}),
        }
      : null,
    benchmark: run?.benchmarks.length
      ? {
          runtime: run.benchmarks[0]!.runtime,
          backend: run.benchmarks[0]!.backend,
          nodeVersion: run.benchmarks[0]!.nodeVersion,
          cpuModel: run.benchmarks[0]!.cpuModel,
          archiveSize: run.benchmarks[0]!.archiveSize,
          paramCount: run.benchmarks[0]!.paramCount,
          loadMs: run.benchmarks[0]!.loadMs,
          peakRssBytes: run.benchmarks[0]!.peakRssBytes,
          batches: run.benchmarks.map((b) => ({
            batch: b.batch,
            firstInferenceMs: b.firstInferenceMs,
            p50Ms: b.p50Ms,
            p95Ms: b.p95Ms,
            p99Ms: b.p99Ms,
            throughputPerSec: b.throughputPerSec,
            runs: b.samplesMs.length,
            samplesMs: b.samplesMs,
          })),
        }
      : null,
    validationHistory: history.map((r) => ({
      id: r.id,
      status: r.status,
      level: r.level,
      runtime: r.runtime,
      error: r.error,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
    })),
    ...(v.sourceUrl
      ? {
          source: {
            url: v.sourceUrl,
            fetchedAt: v.fetchedAt,
            checkedAt: v.upstreamCheckedAt,
            // The upstream now serves other bytes under this version (found by a drift check).
            drift: v.upstreamDrift ? { upstreamDigest: v.upstreamDigest } : null,
          },
        }
      : { source: { uploadedBy: v.uploadedBy?.email ?? null } }),
    ...(v.approvedAt
      ? {
          approval: {
            by: v.approvedBy?.email ?? null,
            at: v.approvedAt,
            note: v.approvalNote,
            overrideReason: v.overrideReason,
          },
        }
      : {}),
    ...(v.rejectedAt ? { rejection: { at: v.rejectedAt, reason: v.rejectionReason } } : {}),
    ...(v.deletedAt ? { deletion: { at: v.deletedAt, by: v.deletedBy?.email ?? null, reason: v.deletionReason } } : {}),
    ...(v.upstreamDrift ? { upstreamDrift: { digest: v.upstreamDigest } } : {}),
  };
}
