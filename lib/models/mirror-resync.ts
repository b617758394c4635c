// Upstream drift: re-fetching a mirrored version and comparing it with what is stored. The stored
// version never changes; a difference is flagged on it and audited.
import { createHash } from "node:crypto";
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { getEnv } from "../env.ts";
import { recordAudit } from "./audit.ts";
import type { Principal } from "../auth/principal.ts";
import { isTfjs } from "../formats/format.ts";
import { parseModelUrl } from "../upstream/handles.ts";
import { tfjsFileUrl, upstreamUrls } from "../upstream/urls.ts";
import { openUpstream, policyFromEnv, type FetchPolicy } from "../upstream/fetcher.ts";
import { emitVersionEvent } from "./webhooks.ts";

/** The outcome of a resync: both digests, and for TF.js the files that differ. */
export type ResyncResult = {
  mirrorId: string;
  handle: string;
  version: number;
  drift: boolean;
  storedDigest: string;
  upstreamDigest: string;
  changedFiles?: string[];
  /** The upstream answered a conditional request with 304: unchanged, nothing downloaded. */
  notModified?: boolean;
};

/** The upstream's validators of a file, for a conditional request next time. */
type Validators = { etag: string | null; lastModified: string | null };

async function hashUpstream(
  url: string,
  policy: FetchPolicy,
  signal?: AbortSignal,
  since?: Validators,
): Promise<{ digest: string | null; validators: Validators }> {
  const headers: Record<string, string> = {};
  if (since?.etag) headers["if-none-match"] = since.etag;
  if (since?.lastModified) headers["if-modified-since"] = since.lastModified;
  const res = await openUpstream(url, policy, { signal, headers, notModified: Object.keys(headers).length > 0 });
  const validators = { etag: res.headers.etag ?? null, lastModified: res.headers["last-modified"] ?? null };
  // 304: the upstream says the bytes are those it described last time (no download).
  if (res.status === 304) return { digest: null, validators: { ...since!, ...pickSet(validators) } };
  const h = createHash("sha256");
  for await (const c of res.body) h.update(c);
  return { digest: `sha256:${h.digest("hex")}`, validators };
}

function pickSet(v: Validators): Partial<Validators> {
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null));
}

/**
 * Re-fetches a mirrored version from upstream and compares digests. The stored version never
 * changes: on a difference it is flagged `upstreamDrift` with the upstream digest, and audited.
 */
export async function resyncMirror(input: {
  mirrorId: string;
  actor: Principal | null;
  ip?: string | null;
  policy?: FetchPolicy;
  signal?: AbortSignal;
  /**
   * Ask conditionally (If-None-Match / If-Modified-Since with what the upstream said last time) where
   * the upstream gave validators: a 304 confirms the bytes without downloading them. The scheduled
   * checks ask this way; an admin's resync always downloads and hashes.
   */
  conditional?: boolean;
}): Promise<ResyncResult> {
  const prisma = await db();
  const row = await prisma.mirrorRequest.findUnique({
    where: { id: input.mirrorId },
    include: { version: { include: { files: true } } },
  });
  if (!row) throw new AppError("not_found", `no mirror request ${input.mirrorId}`);
  const version = row.version;
  if (!version || row.status !== "stored")
    throw new AppError("conflict", `mirror request ${row.id} is ${row.status}: only stored mirrors can be resynced`);
  const policy = input.policy ?? policyFromEnv(getEnv());
  const parsed = parseModelUrl(row.url);
  const urls = upstreamUrls(parsed, policy.upstreamBase);
  let upstreamDigest: string;
  let changedFiles: string[] | undefined;
  let validators: Validators | undefined;
  let notModified = false;
  if (isTfjs(version.format)) {
    // Our primary archive is built here; compare the upstream files one by one instead.
    changedFiles = [];
    const parts: string[] = [];
    for (const f of [...version.files].sort((a, b) => a.path.localeCompare(b.path))) {
      const { digest: d } = await hashUpstream(tfjsFileUrl(urls, f.path), policy, input.signal);
      parts.push(`${f.path}=${d}`);
      if (d !== f.digest) changedFiles.push(f.path);
    }
    upstreamDigest = changedFiles.length
      ? `sha256:${createHash("sha256").update(parts.join("\n")).digest("hex")}`
      : version.digest;
  } else {
    const since =
      input.conditional && (version.upstreamEtag || version.upstreamLastModified) && !version.upstreamDrift
        ? { etag: version.upstreamEtag, lastModified: version.upstreamLastModified }
        : undefined;
    const got = await hashUpstream(
      version.format === "tflite" ? urls.tflite : urls.compressed,
      policy,
      input.signal,
      since,
    );
    notModified = got.digest === null;
    upstreamDigest = got.digest ?? version.digest;
    validators = got.validators;
  }
  const drift = upstreamDigest !== version.digest;
  const checked = {
    upstreamCheckedAt: new Date(),
    // Validators only describe our bytes when the upstream's bytes are ours.
    ...(validators && !drift ? { upstreamEtag: validators.etag, upstreamLastModified: validators.lastModified } : {}),
  };
  if (drift) {
    // upstream.drift commits with the flag: once per new upstream digest, not on every re-check.
    const newDrift = !version.upstreamDrift || version.upstreamDigest !== upstreamDigest;
    await prisma.$transaction(async (tx) => {
      await tx.version.update({
        where: { id: version.id },
        data: { upstreamDrift: true, upstreamDigest, ...checked },
      });
      if (newDrift)
        await emitVersionEvent("upstream.drift", version.id, tx, {
          mirrorId: row.id,
          upstreamDigest,
          ...(changedFiles ? { changedFiles } : {}),
        });
    });
    await recordAudit({
      actor: input.actor,
      action: "mirror.drift",
      ip: input.ip,
      targetType: "version",
      target: `${row.handle}/${version.number}`,
      details: { storedDigest: version.digest, upstreamDigest, ...(changedFiles ? { changedFiles } : {}) },
    });
  } else {
    await prisma.version.update({ where: { id: version.id }, data: checked });
    await recordAudit({
      actor: input.actor,
      action: "mirror.resync",
      ip: input.ip,
      targetType: "version",
      target: `${row.handle}/${version.number}`,
      details: { digest: version.digest, ...(notModified ? { notModified: true } : {}) },
    });
  }
  return {
    mirrorId: row.id,
    handle: row.handle,
    version: version.number,
    drift,
    storedDigest: version.digest,
    upstreamDigest,
    ...(changedFiles ? { changedFiles } : {}),
    ...(notModified ? { notModified } : {}),
  };
}
