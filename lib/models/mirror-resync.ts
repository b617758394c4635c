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

/** The outcome of a resync: both digests, and for TF.js the files that differ. */
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
export async function resyncMirror(input: {
  mirrorId: string;
  actor: Principal | null;
  ip?: string | null;
  policy?: FetchPolicy;
  signal?: AbortSignal;
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
  if (isTfjs(version.format)) {
    // Our primary archive is built here; compare the upstream files one by one instead.
    changedFiles = [];
    const parts: string[] = [];
    for (const f of [...version.files].sort((a, b) => a.path.localeCompare(b.path))) {
      const d = await hashUpstream(tfjsFileUrl(urls, f.path), policy, input.signal);
      parts.push(`${f.path}=${d}`);
      if (d !== f.digest) changedFiles.push(f.path);
    }
    upstreamDigest = changedFiles.length
      ? `sha256:${createHash("sha256").update(parts.join("\n")).digest("hex")}`
      : version.digest;
  } else {
    upstreamDigest = await hashUpstream(
      version.format === "tflite" ? urls.tflite : urls.compressed,
      policy,
      input.signal,
    );
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
    await recordAudit({
      actor: input.actor,
      action: "mirror.resync",
      ip: input.ip,
      targetType: "version",
      target: `${row.handle}/${version.number}`,
      details: { digest: version.digest },
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
  };
}
