// Catalogue search, shared by the home page and GET /api/v1/models: full text, facets, sorts and
// its short result cache. One model's own reads and writes are in ./models.ts.
import { db } from "../db/client.ts";
import { VERSION_STATUSES } from "./version-status.ts";

export const SORTS = ["relevance", "recent", "downloads"] as const;
export type CatalogueSort = (typeof SORTS)[number];
export const FACETS = ["publisher", "task", "format", "license", "status"] as const;
export type FacetName = (typeof FACETS)[number];

export type CatalogueQuery = {
  q?: string;
  publisher?: string[];
  task?: string[];
  format?: string[];
  license?: string[];
  /** Version statuses to include; callers that may not see unapproved versions get approved only. */
  status?: string[];
  sort?: CatalogueSort;
  page?: number;
  pageSize?: number;
  includeUnapproved: boolean;
};

export type CatalogueHit = {
  handle: string;
  title: string | null;
  description: string | null;
  publisher: string;
  task: string | null;
  tags: string[];
  license: string | null;
  latestVersion: number | null;
  /** Aliases that point to an approved version, by name. */
  aliases: Array<{ name: string; version: number }>;
  format: string | null;
  downloads: number;
  updatedAt: Date;
  rank: number;
};

export type CatalogueResult = {
  items: CatalogueHit[];
  total: number;
  page: number;
  pageSize: number;
  facets: Record<FacetName, Array<{ value: string; count: number }>>;
};

/** A prefix query over the words of `q` (letters and digits only, so it is always valid tsquery). */
export function toPrefixQuery(q: string | undefined): string {
  const words = (q ?? "")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .slice(0, 8);
  return words.map((w) => `${w}:*`).join(" & ");
}

/**
 * Catalogue search: full text (PostgreSQL tsvector with a GIN index, prefix matching) over handle,
 * title, tags, task, publisher and description; facets; sort by relevance, recent or downloads;
 * pages. Only models with a visible version match: approved ones, or any status for admins.
 */
// Search results are kept for a few seconds per exact query (in this process, single-flight: many
// clients asking the same thing share one database query). Facet counts and totals depend only on
// the filters, not on the sort or page, so they are kept per filter set. Publishing, approving,
// rejecting and metadata changes clear both; another replica's view lags by at most the TTL.
const CACHE_TTL_MS = 10_000;
type Cached<T> = { at: number; value: Promise<T> };
const caches = ((
  globalThis as {
    __hubkeepCatalogueCache?: { facets: Map<string, Cached<unknown>>; rows: Map<string, Cached<unknown>> };
  }
).__hubkeepCatalogueCache ??= { facets: new Map(), rows: new Map() });

function cached<T>(map: Map<string, Cached<unknown>>, key: string, load: () => Promise<T>): Promise<T> {
  const hit = map.get(key);
  if (hit && Date.now() - hit.at < CACHE_TTL_MS) return hit.value as Promise<T>;
  if (map.size > 2000) map.clear();
  const value = load();
  map.set(key, { at: Date.now(), value });
  value.catch(() => map.delete(key));
  return value;
}

export async function searchCatalogue(query: CatalogueQuery): Promise<CatalogueResult> {
  const prisma = await db();
  const page = Math.max(1, Math.floor(query.page ?? 1));
  const pageSize = Math.min(100, Math.max(1, Math.floor(query.pageSize ?? 20)));
  const statuses = query.includeUnapproved
    ? query.status?.length
      ? query.status.filter((s) => (VERSION_STATUSES as readonly string[]).includes(s))
      : VERSION_STATUSES
    : ["approved"];
  const tsq = toPrefixQuery(query.q);
  const list = (v?: string[]) => (v && v.length ? v : null);
  const params: unknown[] = [
    tsq,
    statuses,
    list(query.format),
    list(query.publisher),
    list(query.task),
    list(query.license),
  ];
  // The text condition is written only when there is a query, so the planner can use the GIN index.
  const filtered = `
    WITH filtered AS (
      SELECT m.id, m.publisher, m.task, m.license, m."updatedAt", m.downloads,
             ${tsq ? `ts_rank_cd(m."searchVector", to_tsquery('simple', $1::text), 1)` : `0 * length($1::text)`} AS rank
      FROM "Module" m
      WHERE ${tsq ? `m."searchVector" @@ to_tsquery('simple', $1::text)` : "true"}
        AND EXISTS (SELECT 1 FROM "Version" v WHERE v."moduleId" = m.id AND v.status = ANY($2::text[]::"VersionStatus"[])
                    AND ($3::text[]::"ModelFormat"[] IS NULL OR v.format = ANY($3::text[]::"ModelFormat"[])))
        AND ($4::text[] IS NULL OR m.publisher = ANY($4::text[]))
        AND ($5::text[] IS NULL OR m.task = ANY($5::text[]))
        AND ($6::text[] IS NULL OR m.license = ANY($6::text[]))
    )`;
  const byDownloads = query.sort === "downloads" || (!tsq && query.sort !== "recent");
  const order =
    query.sort === "recent"
      ? `f."updatedAt" DESC, f.id`
      : byDownloads
        ? tsq
          ? `f.downloads DESC, f.rank DESC, f.id`
          : `f.downloads DESC, f."updatedAt" DESC, f.id`
        : `f.rank DESC, f.id`;
  // The page is chosen first; only its rows get their details, latest version and download total.
  const rowsSql = `${filtered},
    page AS (
      SELECT f.id, f.rank, row_number() OVER (ORDER BY ${order}) AS pos
      FROM filtered f
      ORDER BY ${order}
      LIMIT $7 OFFSET $8
    )
    SELECT m.handle, m.title, m.description, m.publisher, m.task, m.tags, m.license, m."updatedAt", p.rank::float8 AS rank,
           m.downloads::float8 AS downloads,
           latest.number AS "latestVersion", latest.format AS format,
           (SELECT coalesce(array_agg(a.name || '=' || av.number ORDER BY a.name), '{}') FROM "Alias" a
              JOIN "Version" av ON av.id = a."versionId" AND av.status = 'approved'
             WHERE a."moduleId" = m.id) AS aliases
    FROM page p JOIN "Module" m ON m.id = p.id
    LEFT JOIN LATERAL (SELECT v.number, v.format::text AS format FROM "Version" v
                       WHERE v."moduleId" = m.id AND v.status = ANY($2::text[]::"VersionStatus"[]) ORDER BY v.number DESC LIMIT 1) latest ON true
    ORDER BY p.pos`;
  const facetSql = `${filtered}
    SELECT 'total' AS facet, '' AS value, count(*)::int AS count FROM filtered
    UNION ALL SELECT 'publisher', publisher, count(*)::int FROM filtered GROUP BY publisher
    UNION ALL SELECT 'task', task, count(*)::int FROM filtered WHERE task IS NOT NULL GROUP BY task
    UNION ALL SELECT 'license', license, count(*)::int FROM filtered WHERE license IS NOT NULL GROUP BY license
    UNION ALL SELECT 'format', v.format::text, count(DISTINCT f.id)::int FROM filtered f JOIN "Version" v ON v."moduleId" = f.id AND v.status = ANY($2::text[]::"VersionStatus"[]) GROUP BY v.format
    ${query.includeUnapproved ? `UNION ALL SELECT 'status', v.status::text, count(DISTINCT f.id)::int FROM filtered f JOIN "Version" v ON v."moduleId" = f.id GROUP BY v.status` : ""}`;
  const key = JSON.stringify([params, query.includeUnapproved]);
  const facetsPromise = cached(caches.facets, key, () =>
    prisma
      .$queryRawUnsafe<Array<{ facet: FacetName | "total"; value: string; count: number }>>(facetSql, ...params)
      .then((facetRows) => {
        const facets = Object.fromEntries(
          FACETS.map((f) => [f, [] as Array<{ value: string; count: number }>]),
        ) as CatalogueResult["facets"];
        let total = 0;
        for (const r of facetRows) {
          if (r.facet === "total") total = r.count;
          else facets[r.facet].push({ value: r.value, count: r.count });
        }
        for (const f of FACETS)
          facets[f] = facets[f].sort((a, b) => b.count - a.count || a.value.localeCompare(b.value)).slice(0, 25);
        return { total, facets };
      }),
  );
  const rowsPromise = cached(caches.rows, JSON.stringify([key, order, pageSize, page]), () =>
    prisma.$queryRawUnsafe<Array<Omit<CatalogueHit, "rank" | "aliases"> & { rank: number; aliases: string[] }>>(
      rowsSql,
      ...params,
      pageSize,
      (page - 1) * pageSize,
    ),
  );
  const [rows, { total, facets }] = await Promise.all([rowsPromise, facetsPromise]);
  return {
    items: rows.map((r) => ({
      ...r,
      downloads: Number(r.downloads),
      tags: r.tags ?? [],
      aliases: (r.aliases ?? []).map((a) => {
        const eq = a.lastIndexOf("=");
        return { name: a.slice(0, eq), version: Number(a.slice(eq + 1)) };
      }),
    })),
    total,
    page,
    pageSize,
    facets,
  };
}

/** Forgets cached results and facet counts (after a publish, a decision or a metadata change). */
export function forgetCatalogueCache(): void {
  caches.facets.clear();
  caches.rows.clear();
}
