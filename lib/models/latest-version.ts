// Pinning "latest" for unversioned mirror requests, single-flight across processes: of any number
// of concurrent requests for one unversioned handle, one asks the upstream and the others wait for
// its answer in the database (a Setting row per handle is the claim and the answer), so a burst of
// requests costs one upstream request. A resolution also answers requests arriving within
// FRESH_MS after it; a failure answers only the requests that were already waiting for it
// (failures are not cached). A claim whose owner died is taken over after STALE_MS.
import { db } from "../db/client.ts";
import { AppError, ERROR_STATUS, type ErrorCode } from "../errors.ts";
import type { ParsedModelUrl } from "../upstream/handles.ts";

const FRESH_MS = 30_000;
/** Longer than one resolution may take (askLatestVersion's total timeout is 15 s, plus a retry). */
const STALE_MS = 40_000;
const POLL_MS = 100;

type Entry =
  | { state: "resolving"; at: string }
  | { state: "resolved"; version: number; at: string }
  | { state: "failed"; code: ErrorCode; message: string; at: string };

function readEntry(value: unknown): Entry | null {
  const v = value as Partial<{ state: string; version: number; code: string; message: string; at: string }> | null;
  if (v?.state === "resolving") return { state: "resolving", at: String(v.at) };
  if (v?.state === "resolved" && typeof v.version === "number")
    return { state: "resolved", version: v.version, at: String(v.at) };
  if (v?.state === "failed" && typeof v.code === "string" && v.code in ERROR_STATUS)
    return { state: "failed", code: v.code as ErrorCode, message: String(v.message), at: String(v.at) };
  return null;
}

export function latestKey(parsed: Pick<ParsedModelUrl, "source" | "handle">): string {
  return `mirror.latest:${parsed.source}:${parsed.handle}`;
}

/**
 * The upstream's latest version of an unversioned URL. `ask` contacts the upstream; it runs in at
 * most one of the concurrent callers (any process), and `upstreamAsked` says whether it was this one.
 */
export async function pinLatestVersion(
  parsed: Pick<ParsedModelUrl, "source" | "handle">,
  ask: () => Promise<number>,
  opts: { freshMs?: number } = {},
): Promise<{ version: number; upstreamAsked: boolean }> {
  const prisma = await db();
  const key = latestKey(parsed);
  const freshMs = opts.freshMs ?? FRESH_MS;
  const since = Date.now();
  for (;;) {
    const row = await prisma.setting.findUnique({ where: { key } });
    const entry = row ? readEntry(row.value) : null;
    const age = row ? Date.now() - row.updatedAt.getTime() : Infinity;
    if (entry?.state === "resolved" && age < freshMs) return { version: entry.version, upstreamAsked: false };
    // A failure written while we waited is our answer too; an older one is not (retry).
    if (entry?.state === "failed" && row!.updatedAt.getTime() >= since) throw new AppError(entry.code, entry.message);
    if (entry?.state === "resolving" && age < STALE_MS) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      continue;
    }
    // Claim: create the row, or replace the one we read (compare-and-set on updatedAt).
    const resolving = { state: "resolving", at: new Date().toISOString() };
    let claimed: boolean;
    if (!row) {
      claimed = await prisma.setting.create({ data: { key, value: resolving } }).then(
        () => true,
        (err: { code?: string }) => {
          if (err.code === "P2002") return false;
          throw err;
        },
      );
    } else {
      claimed =
        (await prisma.setting.updateMany({ where: { key, updatedAt: row.updatedAt }, data: { value: resolving } }))
          .count === 1;
    }
    if (!claimed) continue;
    let version: number;
    try {
      version = await ask();
    } catch (err) {
      const e =
        err instanceof AppError
          ? err
          : new AppError(
              "upstream_error",
              `could not ask the upstream for the latest version: ${(err as Error).message}`,
            );
      await prisma.setting
        .update({
          where: { key },
          data: { value: { state: "failed", code: e.code, message: e.message, at: new Date().toISOString() } },
        })
        .catch(() => {});
      throw e;
    }
    await prisma.setting.update({
      where: { key },
      data: { value: { state: "resolved", version, at: new Date().toISOString() } },
    });
    return { version, upstreamAsked: true };
  }
}
