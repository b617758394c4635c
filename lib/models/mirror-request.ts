// Asking for a mirror: a publisher asks for an allowlisted upstream model version; exactly one fetch
// happens however many ask at once, from any process (a per-version advisory lock both sides take,
// with the MirrorRequest.activeKey unique column as the backstop); the fetch itself is mirror-fetch.ts's job. Failures are not cached: after
// a request ends `failed`, a later request starts a new fetch.
import { db } from "../db/client.ts";
import { getEnv } from "../env.ts";
import { recordAudit } from "./audit.ts";
import { actorUserId, type Principal } from "../auth/principal.ts";
import { parseModelUrl, type ParsedModelUrl } from "../upstream/handles.ts";
import { policyFromEnv } from "../upstream/fetcher.ts";
import { askLatestVersion } from "../upstream/latest.ts";
import { getQueue } from "../jobs/queue.ts";
import { assertAllowed } from "./allowlist.ts";
import { pinLatestVersion } from "./latest-version.ts";
import { lockMirrorKey, mirrorFetchJob, mirrorKey } from "./mirror-fetch.ts";
import { toMirrorView, type MirrorView } from "./mirror-view.ts";
import { announceQuotaExceeded, quotaExceeded, quotaHeadroom } from "./quotas.ts";
import { recordMirrorRequest } from "../metrics.ts";

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
  /** Test hook: runs inside the decision, between the version check and the insert (race tests). */
  afterVersionCheck?: () => Promise<void>;
  /** Where Kaggle's API is asked for the latest version (tests: the fake upstream). */
  kaggleBase?: string;
}): Promise<{ mirror: MirrorView; existing: boolean }> {
  const requested = parseModelUrl(input.url);
  try {
    // The allowlist decides before anything reaches the upstream; a namespace already at its quota
    // takes nothing more (a fetch that would cross it is refused by the fetch, before storing).
    await assertAllowed(requested.handle, { actor: input.actor, ip: input.ip });
    const headroom = await quotaHeadroom(requested.handle);
    if (headroom && headroom.remaining <= 0) throw quotaExceeded(headroom);
  } catch (err) {
    recordMirrorRequest("refused");
    await announceQuotaExceeded(err, requested.handle).catch(() => {});
    throw err;
  }
  const parsed =
    requested.version === "latest"
      ? await pinLatest(requested, input.kaggleBase)
      : { ...requested, version: requested.version };
  const answer = await requestPinnedMirror({
    ...input,
    parsed,
    requestedUrl: requested.version === "latest" ? requested.canonicalUrl : undefined,
  });
  recordMirrorRequest(answer.existing ? "existing" : answer.created ? "created" : "joined");
  return { mirror: answer.mirror, existing: answer.existing };
}

/** The upstream's latest version of an unversioned URL, as a versioned one. */
async function pinLatest(
  requested: ParsedModelUrl,
  kaggleBase?: string,
): Promise<ParsedModelUrl & { version: number }> {
  const { version } = await pinLatestVersion(requested, () =>
    askLatestVersion(requested, policyFromEnv(getEnv()), { kaggleBase }),
  );
  const pinned = parseModelUrl(`${requested.canonicalUrl}/${version}`);
  return { ...pinned, version };
}

/**
 * The single-flight. Under the version's mirror lock (lockMirrorKey, which the fetch also takes when
 * it publishes), one transaction decides: the version is there (answer the request that fetched it),
 * a fetch is running (join it), or nothing is (insert the request that takes activeKey). The
 * activeKey unique column stays as the backstop: at most one running request per version, whatever
 * the code does.
 */
async function requestPinnedMirror(input: {
  parsed: ParsedModelUrl & { version: number };
  requestedUrl?: string;
  actor: Principal;
  ip?: string | null;
  afterVersionCheck?: () => Promise<void>;
}): Promise<{ mirror: MirrorView; existing: boolean; created: boolean }> {
  const { parsed } = input;
  const prisma = await db();
  const requestedById = actorUserId(input.actor);
  const activeKey = mirrorKey(parsed.handle, parsed.version);

  const decided = await prisma.$transaction(
    async (tx) => {
      await lockMirrorKey(tx, activeKey);
      const version = await tx.version.findFirst({
        where: { number: parsed.version, module: { handle: parsed.handle } },
        select: { id: true, format: true, size: true },
      });
      if (version) {
        // The request that fetched it; a request still running when the version came some other way
        // (it will find the version and end stored); else, once, a stored request for the version.
        const row =
          (await tx.mirrorRequest.findFirst({
            where: { versionId: version.id, status: "stored" },
            orderBy: { createdAt: "asc" },
          })) ??
          (await tx.mirrorRequest.findUnique({ where: { activeKey } })) ??
          (await tx.mirrorRequest.create({
            data: {
              url: parsed.canonicalUrl,
              handle: parsed.handle,
              versionNumber: parsed.version,
              format: version.format,
              status: "stored",
              versionId: version.id,
              bytesDone: version.size,
              bytesTotal: version.size,
              requestedById,
              finishedAt: new Date(),
            },
          }));
        return { row, existing: true, started: false };
      }
      await input.afterVersionCheck?.();
      const running = await tx.mirrorRequest.findUnique({ where: { activeKey } });
      if (running) return { row: running, existing: false, started: false };
      const row = await tx.mirrorRequest.create({
        data: {
          url: parsed.canonicalUrl,
          handle: parsed.handle,
          versionNumber: parsed.version,
          format: parsed.format,
          activeKey,
          requestedById,
        },
      });
      return { row, existing: false, started: true };
    },
    // Concurrent requests for one version queue on the lock: each holds it for a few statements.
    { maxWait: 15_000, timeout: 15_000 },
  );
  if (!decided.started) return { mirror: toMirrorView(decided.row), existing: decided.existing, created: false };

  const { row } = decided;
  await recordAudit({
    actor: input.actor,
    action: "mirror.request",
    ip: input.ip,
    targetType: "version",
    target: `${parsed.handle}/${parsed.version}`,
    details: {
      url: parsed.canonicalUrl,
      mirrorId: row.id,
      ...(input.requestedUrl ? { requestedUrl: input.requestedUrl, pinned: "latest" } : {}),
    },
  });
  try {
    const queue = await getQueue();
    await queue.enqueue(mirrorFetchJob, { mirrorId: row.id });
  } catch (err) {
    await prisma.mirrorRequest.update({
      where: { id: row.id },
      data: {
        status: "failed",
        activeKey: null,
        error: `could not queue the fetch: ${(err as Error).message}`,
        finishedAt: new Date(),
      },
    });
    throw err;
  }
  return { mirror: toMirrorView(row), existing: false, created: true };
}
