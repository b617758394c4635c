// Asking for a mirror: a publisher asks for an allowlisted upstream model version; exactly one fetch
// happens however many ask at once, from any process (the MirrorRequest.activeKey unique column is
// the single-flight lock); the fetch itself is mirror-fetch.ts's job. Failures are not cached: after
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
import { findVersion } from "./versions.ts";
import { mirrorFetchJob } from "./mirror-fetch.ts";
import { toMirrorView, type MirrorView } from "./mirror-view.ts";

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
  const parsed =
    requested.version === "latest"
      ? await pinLatest(requested, input.kaggleBase)
      : { ...requested, version: requested.version };
  return requestPinnedMirror({
    ...input,
    parsed,
    requestedUrl: requested.version === "latest" ? requested.canonicalUrl : undefined,
  });
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
  const requestedById = actorUserId(input.actor);

  const activeKey = `${parsed.handle}@${parsed.version}`;
  const version = await findVersion(parsed.handle, parsed.version);
  if (version) {
    // The fetch publishes the version before it marks its request stored and releases activeKey:
    // in that window the request still holding activeKey is the one to join, not a new row.
    const last =
      (await prisma.mirrorRequest.findUnique({ where: { activeKey } })) ??
      (await prisma.mirrorRequest.findFirst({
        where: { versionId: version.id, status: "stored" },
        orderBy: { createdAt: "desc" },
      }));
    const row =
      last ??
      (await prisma.mirrorRequest.create({
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
    return { mirror: toMirrorView(row), existing: true };
  }

  await input.afterVersionCheck?.();
  const running = await prisma.mirrorRequest.findUnique({ where: { activeKey } });
  if (running) return { mirror: toMirrorView(running), existing: false };
  try {
    const row = await prisma.mirrorRequest.create({
      data: {
        url: parsed.canonicalUrl,
        handle: parsed.handle,
        versionNumber: parsed.version,
        format: parsed.format,
        activeKey,
        requestedById,
      },
    });
    // A fetch that finished between our version check and this insert has already committed its
    // version (it publishes before it releases activeKey): join that instead of fetching again.
    const landed = await findVersion(parsed.handle, parsed.version);
    if (landed) {
      // The request that fetched it is the answer (every caller gets one id); ours was never used.
      const fetched = await prisma.mirrorRequest.findFirst({
        where: { versionId: landed.id, status: "stored" },
        orderBy: { createdAt: "asc" },
      });
      if (fetched) {
        await prisma.mirrorRequest.delete({ where: { id: row.id } });
        return { mirror: toMirrorView(fetched), existing: true };
      }
      const joined = await prisma.mirrorRequest.update({
        where: { id: row.id },
        data: {
          status: "stored",
          activeKey: null,
          versionId: landed.id,
          format: landed.format,
          bytesDone: landed.size,
          bytesTotal: landed.size,
          finishedAt: new Date(),
        },
      });
      return { mirror: toMirrorView(joined), existing: true };
    }
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
    return { mirror: toMirrorView(row), existing: false };
  } catch (err) {
    if ((err as { code?: string }).code !== "P2002") throw err;
    // Someone else is fetching this version right now: join their request.
    const running = await prisma.mirrorRequest.findUnique({ where: { activeKey } });
    if (running) return { mirror: toMirrorView(running), existing: false };
    return requestPinnedMirror(input);
  }
}
