// Mirroring: a publisher asks for an allowlisted upstream model version; exactly one fetch happens
// however many ask at once, from any process (the MirrorRequest.activeKey unique column is the
// single-flight lock); the worker streams it into the blob store and publishes it as `pending`.
// Failures are not cached: the request ends `failed` with a human reason and a later request
// starts a new fetch. A failed fetch leaves no version row and no blob it created.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { z } from "zod";
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { getEnv } from "../env.ts";
import { recordAudit } from "../audit.ts";
import type { Principal } from "../auth/principal.ts";
import { parseModelUrl, type ParsedModelUrl } from "../upstream/handles.ts";
import { assertAllowed } from "../upstream/allowlist.ts";
import { openUpstream, policyFromEnv, type FetchPolicy } from "../upstream/fetcher.ts";
import { askLatestVersion } from "../upstream/latest.ts";
import { pinLatestVersion } from "./latest-version.ts";
import { getBlobStore } from "../storage/index.ts";
import { SourceStreamError, type BlobStore } from "../storage/blob-store.ts";
import { storeArchiveEntries, type ArchiveFile } from "../archive/tar-entries.ts";
import { packTarGz } from "../archive/pack.ts";
import { publishVersion } from "./versions.ts";
import { discardUnreferencedBlobs } from "./gc.ts";
import { defineJob, JobBudgetError, PermanentJobError, stoppedByWorker } from "../jobs/define-job.ts";
import { checkManifestPath, detectTfjsFormat } from "../formats/tfjs.ts";
import { getQueue } from "../jobs/queue.ts";

export type MirrorView = {
  id: string;
  handle: string;
  version: number | null;
  status: "queued" | "fetching" | "stored" | "failed";
  bytesDone: number;
  bytesTotal: number | null;
  error?: string;
  url: string;
  createdAt: string;
};

type MirrorRow = Awaited<ReturnType<Awaited<ReturnType<typeof db>>["mirrorRequest"]["findUniqueOrThrow"]>>;

export function toMirrorView(r: MirrorRow): MirrorView {
  return {
    id: r.id,
    handle: r.handle,
    version: r.versionNumber,
    status: r.status,
    bytesDone: Number(r.bytesDone),
    bytesTotal: r.bytesTotal === null ? null : Number(r.bytesTotal),
    ...(r.error ? { error: r.error } : {}),
    url: r.url,
    createdAt: r.createdAt.toISOString(),
  };
}

/**
 * Starts (or joins) a mirror. Returns `existing: true` with status `stored` when the version is
 * already mirrored, and the in-flight request when one is running.
 *
 * Upstream contact: none for a versioned URL (the fetch job's download is the only upstream request
 * of a mirror, and it reports an unreachable upstream as the mirror's error). An unversioned URL
 * first pins the upstream's latest version: one request, shared by concurrent callers
 * (pinLatestVersion); it fails the call with 502 (the upstream named no version) or 503 (no answer).
 */
export async function requestMirror(input: {
  url: string;
  actor: Principal;
  ip?: string | null;
  /** Test hook: runs between the version check and the single-flight insert (race tests). */
  afterVersionCheck?: () => Promise<void>;
  /** Where Kaggle's API is asked for the latest version (tests: the fake upstream). */
  kaggleBase?: string;
}): Promise<{ mirror: MirrorView; existing: boolean }> {
  const requested = parseModelUrl(input.url);
  // The allowlist decides before anything reaches the upstream.
  await assertAllowed(requested.handle, { actor: input.actor, ip: input.ip });
  const parsed = requested.version === "latest" ? await pinLatest(requested, input.kaggleBase) : { ...requested, version: requested.version };
  return requestPinnedMirror({ ...input, parsed, requestedUrl: requested.version === "latest" ? requested.canonicalUrl : undefined });
}

/** The upstream's latest version of an unversioned URL, as a versioned one. */
async function pinLatest(requested: ParsedModelUrl, kaggleBase?: string): Promise<ParsedModelUrl & { version: number }> {
  const { version } = await pinLatestVersion(requested, () => askLatestVersion(requested, policyFromEnv(getEnv()), { kaggleBase }));
  const pinned = parseModelUrl(`${requested.canonicalUrl}/${version}`);
  return { ...pinned, version };
}

/** The single-flight: the MirrorRequest.activeKey unique column decides, in whichever process. */
async function requestPinnedMirror(input: {
  parsed: ParsedModelUrl & { version: number };
  requestedUrl?: string;
  actor: Principal;
  ip?: string | null;
  afterVersionCheck?: () => Promise<void>;
}): Promise<{ mirror: MirrorView; existing: boolean }> {
  const { parsed } = input;
  const prisma = await db();
  const requestedById = input.actor.kind === "user" && input.actor.via !== "cli" ? input.actor.userId : null;

  const version = await prisma.version.findFirst({ where: { number: parsed.version, module: { handle: parsed.handle } } });
  if (version) {
    const last = await prisma.mirrorRequest.findFirst({ where: { versionId: version.id, status: "stored" }, orderBy: { createdAt: "desc" } });
    const row =
      last ??
      (await prisma.mirrorRequest.create({
        data: { url: parsed.canonicalUrl, handle: parsed.handle, versionNumber: parsed.version, format: version.format, status: "stored", versionId: version.id, bytesDone: version.size, bytesTotal: version.size, requestedById, finishedAt: new Date() },
      }));
    return { mirror: toMirrorView(row), existing: true };
  }

  await input.afterVersionCheck?.();
  const activeKey = `${parsed.handle}@${parsed.version}`;
  const running = await prisma.mirrorRequest.findUnique({ where: { activeKey } });
  if (running) return { mirror: toMirrorView(running), existing: false };
  try {
    const row = await prisma.mirrorRequest.create({
      data: { url: parsed.canonicalUrl, handle: parsed.handle, versionNumber: parsed.version, format: parsed.format, activeKey, requestedById },
    });
    // A fetch that finished between our version check and this insert has already committed its
    // version (it publishes before it releases activeKey): join that instead of fetching again.
    const landed = await prisma.version.findFirst({ where: { number: parsed.version, module: { handle: parsed.handle } } });
    if (landed) {
      const joined = await prisma.mirrorRequest.update({
        where: { id: row.id },
        data: { status: "stored", activeKey: null, versionId: landed.id, format: landed.format, bytesDone: landed.size, bytesTotal: landed.size, finishedAt: new Date() },
      });
      return { mirror: toMirrorView(joined), existing: true };
    }
    await recordAudit({ actor: input.actor, action: "mirror.request", ip: input.ip, targetType: "version", target: `${parsed.handle}/${parsed.version}`, details: { url: parsed.canonicalUrl, mirrorId: row.id, ...(input.requestedUrl ? { requestedUrl: input.requestedUrl, pinned: "latest" } : {}) } });
    try {
      const queue = await getQueue();
      await queue.enqueue(mirrorFetchJob, { mirrorId: row.id });
    } catch (err) {
      await prisma.mirrorRequest.update({ where: { id: row.id }, data: { status: "failed", activeKey: null, error: `could not queue the fetch: ${(err as Error).message}`, finishedAt: new Date() } });
      throw err;
    }
    return { mirror: toMirrorView(row), existing: false };
  } catch (err) {
    if ((err as { code?: string }).code !== "P2002") throw err;
    // Someone else is fetching this version right now: join their request.
    const running = await prisma.mirrorRequest.findUnique({ where: { activeKey } });
    if (running) return { mirror: toMirrorView(running), existing: false };
    return requestPinnedMirror(input);
  }
}

/** The mirror request, for its requester or an admin. */
export async function getMirror(id: string): Promise<MirrorView & { requestedById: string | null }> {
  const prisma = await db();
  const row = await prisma.mirrorRequest.findUnique({ where: { id } });
  if (!row) throw new AppError("not_found", `no mirror request ${id}`);
  return { ...toMirrorView(row), requestedById: row.requestedById };
}

/**
 * Recent mirror requests, newest first: everyone's (admin) or one requester's. Each carries the
 * status of the version it produced, so a watcher sees validation follow the download.
 */
export async function listMirrorRequests(opts: { requestedById?: string; limit?: number }) {
  const prisma = await db();
  const rows = await prisma.mirrorRequest.findMany({
    where: opts.requestedById ? { requestedById: opts.requestedById } : {},
    include: { version: { select: { status: true } }, requestedBy: { select: { email: true } } },
    orderBy: { createdAt: "desc" },
    take: Math.min(opts.limit ?? 50, 200),
  });
  return rows.map((r) => ({ ...toMirrorView(r), versionStatus: r.version?.status ?? null, requestedBy: r.requestedBy?.email ?? null }));
}

/** Where each format is fetched from (the configured upstream base replaces https://tfhub.dev). */
export function upstreamUrls(parsed: Pick<ParsedModelUrl, "source" | "handle" | "version">, upstreamBase: string) {
  const v = parsed.version;
  if (parsed.source === "kaggle") {
    // Kaggle Models' download endpoint answers a tar.gz of the version (or redirects to one).
    const base = `https://www.kaggle.com/api/v1/models/${parsed.handle}/${v}/download`;
    return { compressed: base, tflite: base, tfjsDir: `https://www.kaggle.com/models/${parsed.handle}/${v}` };
  }
  const root = `${upstreamBase.replace(/\/+$/, "")}/${parsed.handle}/${v}`;
  return { compressed: `${root}?tf-hub-format=compressed`, tflite: `${root}?lite-format=tflite`, tfjsDir: root };
}

const manifestSchema = z.object({
  format: z.string().optional(),
  weightsManifest: z
    .array(z.object({ paths: z.array(z.string()).min(1), weights: z.array(z.unknown()) }))
    .default([]),
});

type Progress = { add(n: number): void; setTotal(n: number | null): void; flush(): Promise<void> };

function progressFor(mirrorId: string): Progress {
  let done = 0;
  let total: number | null = null;
  let last = 0;
  let pending: Promise<unknown> = Promise.resolve();
  const write = () => {
    pending = pending.then(async () =>
      (await db()).mirrorRequest.update({ where: { id: mirrorId }, data: { bytesDone: BigInt(done), ...(total !== null ? { bytesTotal: BigInt(total) } : {}) } }),
    );
    return pending;
  };
  return {
    add(n) {
      done += n;
      if (Date.now() - last > 250) {
        last = Date.now();
        void write();
      }
    },
    setTotal(n) {
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

type Fetched = { primary: { digest: string; size: number }; files: ArchiveFile[]; format: "saved_model" | "tf1_hub" | "tfjs_graph" | "tfjs_layers" | "tflite"; sourceUrl: string; created: string[] };

async function fetchIntoStore(parsed: ParsedModelUrl, policy: FetchPolicy, store: BlobStore, progress: Progress, signal: AbortSignal): Promise<Fetched> {
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
      if (Buffer.concat(bytes).subarray(4, 8).toString("latin1") !== "TFL3") throw new AppError("unprocessable_entity", "upstream file is not a TFLite model (no TFL3 identifier)");
      return { primary: r, files: [{ path: "model.tflite", digest: r.digest, size: r.size }], format: "tflite", sourceUrl: urls.tflite, created };
    }
    if (parsed.format === "tfjs_graph") {
      const modelUrl = `${urls.tfjsDir}/model.json?tfjs-format=file`;
      const res = await openUpstream(modelUrl, { ...policy, maxBytes: 64 * 1024 * 1024 }, { signal, expect: "json" });
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(c);
      const text = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = JSON.parse(text.toString("utf8"));
      } catch {
        throw new AppError("upstream_error", `upstream model.json is not JSON (${text.subarray(0, 40).toString("utf8").replace(/\s+/g, " ")}…)`);
      }
      const manifest = manifestSchema.parse(json);
      const shardPaths = [...new Set(manifest.weightsManifest.flatMap((g) => g.paths.map(checkManifestPath)))];
      const modelJson = await put(Readable.from([text]));
      progress.add(text.length);
      const files: ArchiveFile[] = [{ path: "model.json", digest: modelJson.digest, size: modelJson.size }];
      for (const shard of shardPaths) {
        const r = await openUpstream(`${urls.tfjsDir}/${shard}?tfjs-format=file`, policy, { signal });
        const stored = await put(counted(r.body, progress), r.contentLength ?? undefined);
        files.push({ path: shard, digest: stored.digest, size: stored.size });
      }
      // The primary blob: a deterministic tar.gz of model.json and its shards (served for ?tfjs-format=compressed).
      const archive = await put(
        packTarGz(files.map((f) => ({ path: f.path, size: f.size, open: () => store.get(f.digest) }))),
      );
      const format = detectTfjsFormat(json) ?? "tfjs_graph";
      return { primary: archive, files, format, sourceUrl: modelUrl, created };
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
    const format = files.some((f) => f.path === "tfhub_module.pb") ? "tf1_hub" : "saved_model";
    if (!files.some((f) => f.path === "saved_model.pb" || f.path === "saved_model.pbtxt")) {
      throw new AppError("unprocessable_entity", `upstream archive has no saved_model.pb at its root (found ${files.slice(0, 5).map((f) => f.path).join(", ")})`);
    }
    return { primary, files, format, sourceUrl: urls.compressed, created };
  } catch (err) {
    await discardUnreferencedBlobs(created, store).catch(() => {});
    throw err;
  }
}

/** Queues validation of a new version; without a queue in this process it stays `pending` (re-validate later). */
export async function enqueueValidation(versionId: string): Promise<void> {
  try {
    const { validateVersionJob } = await import("../validation/job.ts");
    await (await getQueue()).enqueue(validateVersionJob, { versionId });
  } catch (err) {
    console.error(`hubkeep: could not queue validation of version ${versionId}: ${(err as Error).message}`);
  }
}

/** The worker's side of a mirror: fetch, store, publish as `pending`. */
export async function runMirrorFetch(mirrorId: string, opts: { signal?: AbortSignal; policy?: FetchPolicy } = {}): Promise<MirrorView> {
  const prisma = await db();
  const row = await prisma.mirrorRequest.findUnique({ where: { id: mirrorId } });
  if (!row) throw new PermanentJobError(`mirror request ${mirrorId} does not exist`);
  if (row.status === "stored" || row.status === "failed") return toMirrorView(row);
  await prisma.mirrorRequest.update({ where: { id: mirrorId }, data: { status: "fetching", startedAt: new Date(), attempts: { increment: 1 }, bytesDone: 0n, error: null } });
  const env = getEnv();
  const policy = opts.policy ?? policyFromEnv(env);
  const parsed = parseModelUrl(row.url);
  const progress = progressFor(mirrorId);
  const store = getBlobStore();
  try {
    const fetched = await fetchIntoStore(parsed, policy, store, progress, opts.signal ?? new AbortController().signal);
    await progress.flush();
    const version = await publishVersion({
      handle: row.handle,
      version: row.versionNumber!,
      format: fetched.format,
      source: { kind: "upstream", url: row.url, fetchedAt: new Date() },
      primary: fetched.primary,
      files: fetched.files,
      actor: null,
    });
    const done = await prisma.mirrorRequest.update({
      where: { id: mirrorId },
      data: { status: "stored", activeKey: null, versionId: version.id, finishedAt: new Date(), format: fetched.format },
    });
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
    const reason = aborted instanceof JobBudgetError ? aborted.message : err instanceof AppError ? err.message : `internal error: ${(err as Error).message}`;
    await progress.flush().catch(() => {});
    const failed = await prisma.mirrorRequest.update({ where: { id: mirrorId }, data: { status: "failed", activeKey: null, error: reason, finishedAt: new Date() } });
    await recordAudit({ actor: null, action: "mirror.failed", outcome: "error", targetType: "version", target: `${row.handle}/${row.versionNumber}`, details: { mirrorId, reason } });
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

export type ResyncResult = {
  mirrorId: string;
  handle: string;
  version: number;
  drift: boolean;
  storedDigest: string;
  upstreamDigest: string;
  changedFiles?: string[];
};

async function hashUpstream(url: string, policy: FetchPolicy, signal?: AbortSignal): Promise<string> {
  const res = await openUpstream(url, policy, { signal });
  const h = createHash("sha256");
  for await (const c of res.body) h.update(c);
  return `sha256:${h.digest("hex")}`;
}

/**
 * Re-fetches a mirrored version from upstream and compares digests. The stored version never
 * changes: on a difference it is flagged `upstreamDrift` with the upstream digest, and audited.
 */
export async function resyncMirror(input: { mirrorId: string; actor: Principal | null; ip?: string | null; policy?: FetchPolicy; signal?: AbortSignal }): Promise<ResyncResult> {
  const prisma = await db();
  const row = await prisma.mirrorRequest.findUnique({ where: { id: input.mirrorId }, include: { version: { include: { files: true } } } });
  if (!row) throw new AppError("not_found", `no mirror request ${input.mirrorId}`);
  const version = row.version;
  if (!version || row.status !== "stored") throw new AppError("conflict", `mirror request ${row.id} is ${row.status}: only stored mirrors can be resynced`);
  const policy = input.policy ?? policyFromEnv(getEnv());
  const parsed = parseModelUrl(row.url);
  const urls = upstreamUrls(parsed, policy.upstreamBase);
  let upstreamDigest: string;
  let changedFiles: string[] | undefined;
  if (version.format === "tfjs_graph" || version.format === "tfjs_layers") {
    // Our primary archive is built here; compare the upstream files one by one instead.
    changedFiles = [];
    const parts: string[] = [];
    for (const f of [...version.files].sort((a, b) => a.path.localeCompare(b.path))) {
      const d = await hashUpstream(`${urls.tfjsDir}/${f.path}?tfjs-format=file`, policy, input.signal);
      parts.push(`${f.path}=${d}`);
      if (d !== f.digest) changedFiles.push(f.path);
    }
    upstreamDigest = changedFiles.length ? `sha256:${createHash("sha256").update(parts.join("\n")).digest("hex")}` : version.digest;
  } else {
    upstreamDigest = await hashUpstream(version.format === "tflite" ? urls.tflite : urls.compressed, policy, input.signal);
  }
  const drift = upstreamDigest !== version.digest;
  if (drift) {
    await prisma.version.update({ where: { id: version.id }, data: { upstreamDrift: true, upstreamDigest } });
    await recordAudit({
      actor: input.actor,
      action: "mirror.drift",
      ip: input.ip,
      targetType: "version",
      target: `${row.handle}/${version.number}`,
      details: { storedDigest: version.digest, upstreamDigest, ...(changedFiles ? { changedFiles } : {}) },
    });
  } else {
    await recordAudit({ actor: input.actor, action: "mirror.resync", ip: input.ip, targetType: "version", target: `${row.handle}/${version.number}`, details: { digest: version.digest } });
  }
  return { mirrorId: row.id, handle: row.handle, version: version.number, drift, storedDigest: version.digest, upstreamDigest, ...(changedFiles ? { changedFiles } : {}) };
}
