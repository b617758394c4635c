// Quotas: a limit on the bytes a namespace (a handle glob) holds. Usage is the bytes of the distinct
// blobs of the namespace's versions that are not deleted (the primary archive and every file; a blob
// shared by two versions counts once). The rule has one home: `enforceQuotas` runs inside
// publishVersion's transaction, so no upload or mirror can commit past a limit; the earlier checks
// (`quotaHeadroom`, from Content-Length and while bytes stream) only refuse sooner, before anything
// is stored. Crossing 80 % sends `quota.warning`, a refusal `quota.exceeded`.
import type { Prisma } from "../db/generated/client.ts";
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "./audit.ts";
import type { Principal } from "../auth/principal.ts";
import { handleMatches, handlePatternRegex } from "../auth/permissions.ts";
import { parseHandleGlob } from "../upstream/allowlist.ts";
import { emitEvent } from "./webhooks.ts";

/** Usage at which `quota.warning` is sent (a fraction of the limit). */
export const QUOTA_WARNING_RATIO = 0.8;

export type QuotaView = {
  id: string;
  namespace: string;
  maxBytes: number;
  usedBytes: number;
  /** usedBytes / maxBytes. */
  ratio: number;
  createdAt: Date;
  updatedAt: Date;
};

type Queryable = Pick<Prisma.TransactionClient, "$queryRawUnsafe">;

// The blobs of live versions, with their module's handle: (handle, digest, size), duplicates removed
// within a handle. A CTE every usage query starts from.
const LIVE_BLOBS = `
  live AS (
    SELECT m.handle, v.digest, v.size
      FROM "Version" v JOIN "Module" m ON m.id = v."moduleId"
     WHERE v.status <> 'deleted'
    UNION
    SELECT m.handle, f.digest, f.size
      FROM "VersionFile" f JOIN "Version" v ON v.id = f."versionId" JOIN "Module" m ON m.id = v."moduleId"
     WHERE v.status <> 'deleted'
  )`;

/** Bytes of the distinct live blobs of the handles `pattern` matches. */
export async function namespaceUsage(pattern: string, q?: Queryable): Promise<number> {
  const client = q ?? (await db());
  const rows = await client.$queryRawUnsafe<Array<{ used: bigint | number | null }>>(
    `WITH ${LIVE_BLOBS}
     SELECT COALESCE(sum(size), 0)::bigint AS used
       FROM (SELECT DISTINCT digest, size FROM live WHERE handle ~ $1) d`,
    handlePatternRegex(pattern),
  );
  return Number(rows[0]?.used ?? 0);
}

/** Checks a quota's fields: the namespace is a handle glob, the limit a positive whole number of bytes. */
export function parseQuota(input: { namespace: unknown; maxBytes: unknown }): { namespace: string; maxBytes: number } {
  const namespace = parseHandleGlob(input.namespace, "namespace");
  const n = input.maxBytes;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0)
    throw new AppError(
      "unprocessable_entity",
      `maxBytes: must be a positive whole number of bytes, got ${JSON.stringify(n)}`,
    );
  return { namespace, maxBytes: n };
}

function view(q: { id: string; namespace: string; maxBytes: bigint; createdAt: Date; updatedAt: Date }, used: number) {
  const maxBytes = Number(q.maxBytes);
  return {
    id: q.id,
    namespace: q.namespace,
    maxBytes,
    usedBytes: used,
    ratio: maxBytes > 0 ? used / maxBytes : 0,
    createdAt: q.createdAt,
    updatedAt: q.updatedAt,
  } satisfies QuotaView;
}

export async function listQuotas(): Promise<QuotaView[]> {
  const prisma = await db();
  const rows = await prisma.quota.findMany({ orderBy: { namespace: "asc" } });
  return Promise.all(rows.map(async (r) => view(r, await namespaceUsage(r.namespace))));
}

/**
 * Sets (creates or replaces) the quota of a namespace. A limit below the current usage is allowed
 * (nothing is deleted; new bytes are refused) and says so in `warning`.
 */
export async function putQuota(input: {
  namespace: unknown;
  maxBytes: unknown;
  actor: Principal;
  ip?: string | null;
}): Promise<{ quota: QuotaView; created: boolean; warning: string | null }> {
  const { namespace, maxBytes } = parseQuota(input);
  const prisma = await db();
  const existing = await prisma.quota.findUnique({ where: { namespace } });
  const row = await prisma.quota.upsert({
    where: { namespace },
    create: { namespace, maxBytes: BigInt(maxBytes) },
    update: { maxBytes: BigInt(maxBytes), warnedAt: null },
  });
  const used = await namespaceUsage(namespace);
  const warning =
    used > maxBytes
      ? `"${namespace}" already holds ${used} bytes, above the new limit of ${maxBytes}: nothing is deleted, but new versions are refused until usage falls below it`
      : null;
  await recordAudit({
    actor: input.actor,
    action: "quota.set",
    ip: input.ip,
    targetType: "quota",
    target: namespace,
    details: { maxBytes, previous: existing ? Number(existing.maxBytes) : null, usedBytes: used },
  });
  return { quota: view(row, used), created: !existing, warning };
}

export async function deleteQuota(input: { id: string; actor: Principal; ip?: string | null }): Promise<void> {
  const prisma = await db();
  const row = await prisma.quota.findUnique({ where: { id: input.id } });
  if (!row) throw new AppError("not_found", `no quota ${input.id}`);
  await prisma.quota.delete({ where: { id: row.id } });
  await recordAudit({
    actor: input.actor,
    action: "quota.delete",
    ip: input.ip,
    targetType: "quota",
    target: row.namespace,
    details: { maxBytes: Number(row.maxBytes) },
  });
}

/** The quotas whose namespace covers `handle`. */
async function quotasOf(handle: string, q?: Pick<Prisma.TransactionClient, "quota">) {
  const client = q ?? (await db());
  const all = await client.quota.findMany();
  return all.filter((r) => handleMatches(r.namespace, handle));
}

export type Headroom = { namespace: string; usedBytes: number; maxBytes: number; remaining: number };

/** The tightest quota over `handle` (the least bytes left), or null when none covers it. */
export async function quotaHeadroom(handle: string): Promise<Headroom | null> {
  let tightest: Headroom | null = null;
  for (const q of await quotasOf(handle)) {
    const used = await namespaceUsage(q.namespace);
    const maxBytes = Number(q.maxBytes);
    const h = { namespace: q.namespace, usedBytes: used, maxBytes, remaining: maxBytes - used };
    if (!tightest || h.remaining < tightest.remaining) tightest = h;
  }
  return tightest;
}

/** The contract's refusal: 413 `quota_exceeded`, naming the namespace, its usage and its limit. */
export function quotaExceeded(h: { namespace: string; usedBytes: number; maxBytes: number }, adding?: number) {
  return new AppError(
    "quota_exceeded",
    `quota of "${h.namespace}" exceeded: it holds ${h.usedBytes} bytes of its ${h.maxBytes}-byte limit` +
      (adding !== undefined ? `, and this would add ${adding}` : ""),
    { namespace: h.namespace, usedBytes: h.usedBytes, maxBytes: h.maxBytes },
  );
}

/**
 * Refuses early: throws quota_exceeded when `bytes` more (a Content-Length, or what has streamed so
 * far) cannot fit `headroom`. The final word is enforceQuotas at publish.
 */
export function checkHeadroom(headroom: Headroom | null, bytes: number): void {
  if (headroom && bytes > headroom.remaining) throw quotaExceeded(headroom, bytes);
}

/** A quota crossing found at publish: what to tell once the publish commits. */
export type QuotaCrossing = { namespace: string; usedBytes: number; maxBytes: number };

/**
 * Inside publishVersion's transaction, after the version row exists: every quota over the handle,
 * with the new version counted, must still hold. Serialised per quota (an advisory lock on its
 * namespace), so two publishes at once cannot both slip under one limit. Returns the quotas the
 * publish pushed past QUOTA_WARNING_RATIO for the first time (their `warnedAt` is set here).
 */
export async function enforceQuotas(tx: Prisma.TransactionClient, handle: string): Promise<QuotaCrossing[]> {
  const crossings: QuotaCrossing[] = [];
  const quotas = (await quotasOf(handle, tx)).sort((a, b) => a.namespace.localeCompare(b.namespace));
  for (const q of quotas) {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('hubkeep.quota'), hashtext(${q.namespace}))`;
    const used = await namespaceUsage(q.namespace, tx);
    const maxBytes = Number(q.maxBytes);
    if (used > maxBytes) throw quotaExceeded({ namespace: q.namespace, usedBytes: used, maxBytes });
    if (used >= maxBytes * QUOTA_WARNING_RATIO && !q.warnedAt) {
      await tx.quota.update({ where: { id: q.id }, data: { warnedAt: new Date() } });
      crossings.push({ namespace: q.namespace, usedBytes: used, maxBytes });
      // In the publish's transaction: sent exactly when the version that crossed it commits.
      await emitEvent("quota.warning", { namespace: q.namespace, usedBytes: used, maxBytes, handle }, tx);
    } else if (used < maxBytes * QUOTA_WARNING_RATIO && q.warnedAt) {
      await tx.quota.update({ where: { id: q.id }, data: { warnedAt: null } });
    }
  }
  return crossings;
}

export type StorageReading = { namespace: string; usedBytes: number; maxBytes: number | null };

/**
 * Storage by namespace for /metrics and the admin screen: each quota's pattern, and the first handle
 * segment of every handle no quota covers.
 */
export async function readStorageByNamespace(): Promise<StorageReading[]> {
  const prisma = await db();
  const quotas = await prisma.quota.findMany({ orderBy: { namespace: "asc" } });
  const out: StorageReading[] = [];
  for (const q of quotas)
    out.push({ namespace: q.namespace, usedBytes: await namespaceUsage(q.namespace), maxBytes: Number(q.maxBytes) });
  const covered = quotas.map((q) => handlePatternRegex(q.namespace));
  const rows = await prisma.$queryRawUnsafe<Array<{ ns: string; used: bigint | number }>>(
    `WITH ${LIVE_BLOBS}
     SELECT ns, sum(size)::bigint AS used
       FROM (SELECT DISTINCT split_part(handle, '/', 1) AS ns, digest, size FROM live
              WHERE NOT (handle ~ ANY($1::text[]))) d
      GROUP BY ns ORDER BY ns`,
    covered,
  );
  for (const r of rows) out.push({ namespace: r.ns, usedBytes: Number(r.used), maxBytes: null });
  return out;
}

/** After a publish committed: audits each quota it pushed past 80 % (and sends `quota.warning`). */
export async function announceQuotaWarnings(crossings: QuotaCrossing[]): Promise<void> {
  for (const c of crossings) {
    await recordAudit({
      actor: null,
      action: "quota.warning",
      targetType: "quota",
      target: c.namespace,
      details: { usedBytes: c.usedBytes, maxBytes: c.maxBytes, ratio: c.usedBytes / c.maxBytes },
    });
  }
}

// One quota.exceeded per namespace per this long from a process: a client retrying a refused upload
// in a loop does not flood the receivers.
const EXCEEDED_EVERY_MS = 10 * 60_000;
const lastExceeded = new Map<string, number>();

/** After a refusal reached the caller: sends `quota.exceeded` (throttled per namespace) and audits it. */
export async function announceQuotaExceeded(err: unknown, handle: string): Promise<void> {
  const e = err as { code?: string; details?: { namespace?: unknown; usedBytes?: unknown; maxBytes?: unknown } };
  if (e?.code !== "quota_exceeded" || typeof e.details?.namespace !== "string") return;
  const namespace = e.details.namespace;
  const now = Date.now();
  if (now - (lastExceeded.get(namespace) ?? 0) < EXCEEDED_EVERY_MS) return;
  lastExceeded.set(namespace, now);
  const data = { namespace, usedBytes: e.details.usedBytes, maxBytes: e.details.maxBytes, handle };
  await recordAudit({
    actor: null,
    action: "quota.exceeded",
    outcome: "denied",
    targetType: "quota",
    target: namespace,
    details: data,
  });
  await emitEvent("quota.exceeded", data);
}
