// The worker's side of a mirror: what to download for a version (by format), streamed into the blob
// store and published as `pending`, then queued for validation. A failure ends the request `failed`
// with a human reason and leaves no version row and no blob it created.
import { Readable } from "node:stream";
import { z } from "zod";
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { getEnv } from "../env.ts";
import { recordAudit } from "./audit.ts";
import { parseModelUrl, type ParsedModelUrl } from "../upstream/handles.ts";
import { tfjsFileUrl, upstreamUrls } from "../upstream/urls.ts";
import { openUpstream, policyFromEnv, type FetchPolicy } from "../upstream/fetcher.ts";
import { getBlobStore } from "../storage/index.ts";
import { SourceStreamError, type BlobStore } from "../storage/blob-store.ts";
import { packTarGz } from "../archive/pack.ts";
import { defineJob, JobBudgetError, PermanentJobError, stoppedByWorker } from "../jobs/define-job.ts";
import { enqueueValidation } from "./validation-job.ts";
import { checkManifestPath } from "../formats/tfjs.ts";
import { detectFormat, isSavedModel, isTfjs, isTfliteHead, type KnownFormat } from "../formats/format.ts";
import { storeArchiveEntries, type ArchiveFile } from "./store-archive-entries.ts";
import type { Prisma } from "../db/generated/client.ts";
import { publishVersion, type PublishStep } from "./versions.ts";
import { discardUnreferencedBlobs } from "./gc.ts";
import { toMirrorView, type MirrorView } from "./mirror-view.ts";
import { announceQuotaExceeded, checkHeadroom, quotaHeadroom, type Headroom } from "./quotas.ts";
import { emitEvent } from "./webhooks.ts";

const manifestSchema = z.object({
  format: z.string().optional(),
  weightsManifest: z.array(z.object({ paths: z.array(z.string()).min(1), weights: z.array(z.unknown()) })).default([]),
});

/** The key of the single flight for one upstream version: MirrorRequest.activeKey's value. */
export function mirrorKey(handle: string, version: number): string {
  return `${handle}@${version}`;
}

/**
 * The single-flight lock of one upstream version, held to the end of the transaction. A request takes
 * it while it decides (version there? fetch running? start one); a fetch takes it in the transaction
 * that publishes the version and marks its request stored. So a request sees either "no version, the
 * fetch holds activeKey" or "the version, its request stored", never the moment between.
 */
export async function lockMirrorKey(tx: Prisma.TransactionClient, key: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('hubkeep.mirror'), hashtext(${key}))`;
}

type Progress = { add(n: number): void; setTotal(n: number | null): void; flush(): Promise<void> };

/** Progress of one fetch, written to its request; past the namespace's quota headroom it throws. */
function progressFor(mirrorId: string, headroom: Headroom | null): Progress {
  let done = 0;
  let total: number | null = null;
  let last = 0;
  let pending: Promise<unknown> = Promise.resolve();
  const write = () => {
    pending = pending.then(async () =>
      (await db()).mirrorRequest.update({
        where: { id: mirrorId },
        data: { bytesDone: BigInt(done), ...(total !== null ? { bytesTotal: BigInt(total) } : {}) },
      }),
    );
    return pending;
  };
  return {
    add(n) {
      done += n;
      checkHeadroom(headroom, done);
      if (Date.now() - last > 250) {
        last = Date.now();
        void write();
      }
    },
    setTotal(n) {
      // A Content-Length past the quota is refused before a byte is stored.
      if (n !== null) checkHeadroom(headroom, n);
      total = n;
      void write();
    },
    async flush() {
      await write();
    },
  };
}

async function* counted(body: AsyncIterable<Buffer>, progress: Progress): AsyncGenerator<Buffer> {
  for await (const c of body) {
    progress.add(c.length);
    yield c;
  }
}

type Fetched = {
  primary: { digest: string; size: number };
  files: ArchiveFile[];
  format: KnownFormat;
  sourceUrl: string;
  created: string[];
};

async function fetchIntoStore(
  parsed: ParsedModelUrl,
  policy: FetchPolicy,
  store: BlobStore,
  progress: Progress,
  signal: AbortSignal,
): Promise<Fetched> {
  const urls = upstreamUrls(parsed, policy.upstreamBase);
  const created: string[] = [];
  const put = async (body: AsyncIterable<Buffer> | Readable, expectedSize?: number) => {
    const r = await store.put(body, expectedSize === undefined ? undefined : { expectedSize });
    if (r.created) created.push(r.digest);
    return r;
  };
  try {
    if (parsed.format === "tflite") {
      const res = await openUpstream(urls.tflite, policy, { signal });
      progress.setTotal(res.contentLength);
      const r = await put(counted(res.body, progress), res.contentLength ?? undefined);
      const head = await store.get(r.digest, { range: { start: 0, end: Math.min(7, r.size - 1) } });
      const bytes: Buffer[] = [];
      for await (const c of head) bytes.push(c as Buffer);
      if (!isTfliteHead(Buffer.concat(bytes)))
        throw new AppError("unprocessable_entity", "upstream file is not a TFLite model (no TFL3 identifier)");
      return {
        primary: r,
        files: [{ path: "model.tflite", digest: r.digest, size: r.size }],
        format: "tflite",
        sourceUrl: urls.tflite,
        created,
      };
    }
    if (parsed.format === "tfjs_graph") {
      const modelUrl = tfjsFileUrl(urls, "model.json");
      const res = await openUpstream(modelUrl, { ...policy, maxBytes: 64 * 1024 * 1024 }, { signal, expect: "json" });
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(c);
      const text = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = JSON.parse(text.toString("utf8"));
      } catch {
        throw new AppError(
          "upstream_error",
          `upstream model.json is not JSON (${text.subarray(0, 40).toString("utf8").replace(/\s+/g, " ")}…)`,
        );
      }
      const manifest = manifestSchema.parse(json);
      const shardPaths = [...new Set(manifest.weightsManifest.flatMap((g) => g.paths.map(checkManifestPath)))];
      const modelJson = await put(Readable.from([text]));
      progress.add(text.length);
      const files: ArchiveFile[] = [{ path: "model.json", digest: modelJson.digest, size: modelJson.size }];
      for (const shard of shardPaths) {
        const r = await openUpstream(tfjsFileUrl(urls, shard), policy, { signal });
        const stored = await put(counted(r.body, progress), r.contentLength ?? undefined);
        files.push({ path: shard, digest: stored.digest, size: stored.size });
      }
      // The primary blob: a deterministic tar.gz of model.json and its shards (served for ?tfjs-format=compressed).
      const archive = await put(
        packTarGz(files.map((f) => ({ path: f.path, size: f.size, open: () => store.get(f.digest) }))),
      );
      // Only model.json tells a TF.js model's kind: shard names are the upstream's choice.
      const detected = detectFormat({ paths: ["model.json"], modelJson: () => json });
      return {
        primary: archive,
        files,
        format: isTfjs(detected.format) ? detected.format : "tfjs_graph",
        sourceUrl: modelUrl,
        created,
      };
    }
    // SavedModel / TF1 Hub: keep the original archive as the primary blob, then record its files.
    const res = await openUpstream(urls.compressed, policy, { signal });
    progress.setTotal(res.contentLength);
    const primary = await put(counted(res.body, progress), res.contentLength ?? undefined);
    const files = await storeArchiveEntries(await store.get(primary.digest), store, {
      signal,
      onStored: (r) => {
        if (r.created) created.push(r.digest);
      },
    });
    const { format } = detectFormat({ paths: files.map((f) => f.path) });
    if (!isSavedModel(format)) {
      throw new AppError(
        "unprocessable_entity",
        `upstream archive has no saved_model.pb at its root (found ${files
          .slice(0, 5)
          .map((f) => f.path)
          .join(", ")})`,
      );
    }
    return { primary, files, format, sourceUrl: urls.compressed, created };
  } catch (err) {
    await discardUnreferencedBlobs(created, store).catch(() => {});
    throw err;
  }
}

/** The worker's side of a mirror: fetch, store, publish as `pending`. */
export async function runMirrorFetch(
  mirrorId: string,
  opts: {
    signal?: AbortSignal;
    policy?: FetchPolicy;
    /** Test hook: called between the steps of the publish (race tests pause there). */
    onPublishStep?: (step: PublishStep) => Promise<void>;
  } = {},
): Promise<MirrorView> {
  const prisma = await db();
  const row = await prisma.mirrorRequest.findUnique({ where: { id: mirrorId } });
  if (!row) throw new PermanentJobError(`mirror request ${mirrorId} does not exist`);
  if (row.status === "stored" || row.status === "failed") return toMirrorView(row);
  await prisma.mirrorRequest.update({
    where: { id: mirrorId },
    data: { status: "fetching", startedAt: new Date(), attempts: { increment: 1 }, bytesDone: 0n, error: null },
  });
  const env = getEnv();
  const policy = opts.policy ?? policyFromEnv(env);
  const parsed = parseModelUrl(row.url);
  const progress = progressFor(mirrorId, await quotaHeadroom(row.handle));
  const store = getBlobStore();
  try {
    const fetched = await fetchIntoStore(parsed, policy, store, progress, opts.signal ?? new AbortController().signal);
    await progress.flush();
    const storedMark = (versionId: string) =>
      ({ status: "stored", activeKey: null, versionId, finishedAt: new Date(), format: fetched.format }) as const;
    const version = await publishVersion({
      handle: row.handle,
      version: row.versionNumber!,
      format: fetched.format,
      source: { kind: "upstream", url: row.url, fetchedAt: new Date() },
      primary: fetched.primary,
      files: fetched.files,
      actor: null,
      // The version appears and this request is marked stored (activeKey released) in one commit,
      // under the single-flight lock: see lockMirrorKey.
      withinPublish: async (tx, v) => {
        await lockMirrorKey(tx, mirrorKey(row.handle, row.versionNumber!));
        await tx.mirrorRequest.update({ where: { id: mirrorId }, data: storedMark(v.id) });
      },
      onStep: opts.onPublishStep,
    });
    const done = version.created
      ? await prisma.mirrorRequest.findUniqueOrThrow({ where: { id: mirrorId } })
      : // The version was already there (published another way): this request ends stored too.
        await prisma.mirrorRequest.update({ where: { id: mirrorId }, data: storedMark(version.id) });
    if (version.created) await enqueueValidation(version.id);
    return toMirrorView(done);
  } catch (caught) {
    // A failure of the upstream body surfaces from the store wrapped as SourceStreamError: report the upstream's reason.
    const err = caught instanceof SourceStreamError && caught.cause instanceof AppError ? caught.cause : caught;
    const aborted = opts.signal?.aborted ? opts.signal.reason : undefined;
    if (stoppedByWorker(opts.signal)) {
      // The worker is stopping: not the mirror's fault. Queue it again; the job is retried.
      await progress.flush().catch(() => {});
      await prisma.mirrorRequest.update({ where: { id: mirrorId }, data: { status: "queued", bytesDone: 0n } });
      throw caught;
    }
    const reason =
      aborted instanceof JobBudgetError
        ? aborted.message
        : err instanceof AppError
          ? err.message
          : `internal error: ${(err as Error).message}`;
    await progress.flush().catch(() => {});
    await announceQuotaExceeded(err, row.handle).catch(() => {});
    // mirror.failed commits with the failure (lib/models/webhooks.ts).
    const failed = await prisma.$transaction(async (tx) => {
      const f = await tx.mirrorRequest.update({
        where: { id: mirrorId },
        data: { status: "failed", activeKey: null, error: reason, finishedAt: new Date() },
      });
      await emitEvent(
        "mirror.failed",
        { mirrorId, url: row.url, handle: row.handle, version: row.versionNumber, error: reason },
        tx,
      );
      return f;
    });
    await recordAudit({
      actor: null,
      action: "mirror.failed",
      outcome: "error",
      targetType: "version",
      target: `${row.handle}/${row.versionNumber}`,
      details: { mirrorId, reason },
    });
    return toMirrorView(failed);
  }
}

export const mirrorFetchJob = defineJob({
  name: "mirror-fetch",
  schema: z.object({ mirrorId: z.string().min(1) }),
  // A fetch that fails is final (PermanentJobError); retries only happen when a worker died mid-way
  // and the job expired, and then the fetch starts again from scratch.
  retryLimit: 2,
  expireInSeconds: 6 * 3600,
  // Fetches wait on the network, not the CPU: several at once, each within its budget, so a few slow
  // upstreams cannot hold every slot for long.
  concurrency: () => getEnv().jobs.mirrorConcurrency,
  budgetMs: () => getEnv().jobs.mirrorBudgetMs,
  budgetVariable: "HUBKEEP_MIRROR_BUDGET_SECONDS",
  async handle({ mirrorId }, ctx) {
    const view = await runMirrorFetch(mirrorId, { signal: ctx.signal });
    if (view.status === "failed") throw new PermanentJobError(view.error ?? "mirror failed");
    return { status: view.status };
  },
});
