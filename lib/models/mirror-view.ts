// Reading mirror requests: how a MirrorRequest row reads to its requester, the admin pages and the
// API, whether it is queued, fetching, stored or failed.
import type { MirrorRequest, MirrorStatus } from "../db/generated/client.ts";
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";

/** A mirror request as the API answers it; `version` is null until an unversioned URL is pinned. */
export type MirrorView = {
  id: string;
  handle: string;
  version: number | null;
  status: MirrorStatus;
  bytesDone: number;
  bytesTotal: number | null;
  error?: string;
  url: string;
  createdAt: string;
};

export function toMirrorView(r: MirrorRequest): MirrorView {
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
  return rows.map((r) => ({
    ...toMirrorView(r),
    versionStatus: r.version?.status ?? null,
    requestedBy: r.requestedBy?.email ?? null,
  }));
}
