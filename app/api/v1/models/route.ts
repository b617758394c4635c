import { apiRoute, json } from "@/lib/http/api.ts";
import { canReadUnapproved, RULES } from "@/lib/auth/permissions.ts";
import { searchCatalogue } from "@/lib/models/catalogue.ts";
import { getEnv } from "@/lib/env.ts";
import { catalogueQuerySchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

/** Query values: repeated keys and comma-separated lists both work for the facet filters. */
function readQuery(req: Request) {
  const sp = new URL(req.url).searchParams;
  const multi = (k: string) =>
    sp.has(k)
      ? sp
          .getAll(k)
          .flatMap((v) => v.split(","))
          .filter((v) => v.trim() !== "")
      : undefined;
  const one = (k: string) => sp.get(k) ?? undefined;
  const known = new Set(["q", "publisher", "task", "format", "license", "status", "sort", "page", "pageSize"]);
  const extra = [...sp.keys()].filter((k) => !known.has(k));
  return {
    q: one("q"),
    publisher: multi("publisher"),
    task: multi("task"),
    format: multi("format"),
    license: multi("license"),
    status: multi("status"),
    sort: one("sort"),
    page: one("page"),
    pageSize: one("pageSize"),
    ...Object.fromEntries(extra.map((k) => [k, sp.get(k)])),
  };
}

// GET /api/v1/models?q=&publisher=&task=&format=&license=&status=&sort=&page=&pageSize=: catalogue
// search with facets. Approved models only, except for admins (who may filter by status).
export const GET = apiRoute(
  () => RULES.readApproved({ anonymousRead: getEnv().anonymousRead }),
  async (ctx) => {
    const q = catalogueQuerySchema.parse(readQuery(ctx.req));
    const started = performance.now();
    const result = await searchCatalogue({ ...q, includeUnapproved: canReadUnapproved(ctx.principal) });
    // The search's own time, for dashboards and npm run bench:catalogue.
    return json(result, { headers: { "server-timing": `search;dur=${(performance.now() - started).toFixed(2)}` } });
  },
);
