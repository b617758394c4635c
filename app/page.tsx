import { canReadApproved, canReadUnapproved } from "@/lib/auth/permissions.ts";
import { pageContext } from "@/lib/http/page-context.ts";
import { FACETS, SORTS, searchCatalogue, type CatalogueSort, type FacetName } from "@/lib/models/catalogue.ts";
import { getEnv } from "@/lib/env.ts";
import { Empty, type SearchParams } from "./ui/common.tsx";

export const dynamic = "force-dynamic";

const FACET_LABEL: Record<FacetName, string> = {
  publisher: "Publisher",
  task: "Task",
  format: "Format",
  license: "License",
  status: "Status",
};
const FORMAT_LABEL: Record<string, string> = {
  saved_model: "SavedModel",
  tf1_hub: "TF1 Hub module",
  tfjs_graph: "TF.js graph",
  tfjs_layers: "TF.js layers",
  tflite: "TFLite",
  unknown: "unknown",
};

/** A description's first words as plain text (markdown and any HTML dropped) for a result card. */
function plainText(md: string): string {
  return md
    .replace(/<[^>]*>?/g, " ")
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[#*`_>~|]/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

function all(sp: Record<string, string | string[] | undefined>, k: string): string[] {
  const v = sp[k];
  return (Array.isArray(v) ? v : v ? [v] : []).flatMap((x) => x.split(",")).filter(Boolean);
}

function href(
  sp: Record<string, string | string[] | undefined>,
  change: Record<string, string[] | string | undefined>,
): string {
  const out = new URLSearchParams();
  for (const k of ["q", "sort", ...FACETS]) {
    const v = k in change ? change[k] : k === "q" || k === "sort" ? (all(sp, k)[0] ?? undefined) : all(sp, k);
    for (const x of Array.isArray(v) ? v : v ? [v] : []) out.append(k, x);
  }
  if (change.page) out.set("page", String(change.page));
  const s = out.toString();
  return s ? `/?${s}` : "/";
}

// The catalogue home: search with facets, sort and pages. Approved models (admins see every status).
export default async function Home({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const { principal } = await pageContext("/");
  const env = getEnv();
  if (!canReadApproved(principal, { anonymousRead: env.anonymousRead })) {
    return (
      <Empty title="Sign in to browse models.">
        <p>
          <a href="/signin">Sign in</a>
        </p>
      </Empty>
    );
  }
  const admin = canReadUnapproved(principal);
  const q = all(sp, "q")[0] ?? "";
  const sort = (SORTS as readonly string[]).includes(all(sp, "sort")[0] ?? "")
    ? (all(sp, "sort")[0] as CatalogueSort)
    : "relevance";
  const page = Math.max(1, Number(all(sp, "page")[0]) || 1);
  const selected = Object.fromEntries(FACETS.map((f) => [f, all(sp, f)])) as Record<FacetName, string[]>;
  const result = await searchCatalogue({ q, sort, page, pageSize: 20, includeUnapproved: admin, ...selected });
  const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
  return (
    <>
      <h1>Model catalogue</h1>
      <p className="lede">
        {admin
          ? "Every model and version status (you are an admin)."
          : "Approved models from your organisation and its TensorFlow Hub mirror."}{" "}
        Copy a pinned URL into your code from any model page.
      </p>
      <form method="get" action="/" className="search" role="search">
        <label className="grow">
          <span className="sr-only">Search models</span>
          <input
            type="search"
            name="q"
            defaultValue={q}
            placeholder="Search by name, task, tag or description, e.g. mobilenet feature vector"
            autoComplete="off"
          />
        </label>
        {FACETS.flatMap((f) => selected[f].map((v) => <input key={`${f}:${v}`} type="hidden" name={f} value={v} />))}
        <label>
          <span className="sr-only">Sort by</span>
          <select name="sort" defaultValue={sort}>
            <option value="relevance">Best match</option>
            <option value="recent">Recently updated</option>
            <option value="downloads">Most downloaded</option>
          </select>
        </label>
        <button className="btn btn-primary">Search</button>
      </form>
      <div className="catalogue">
        <aside aria-label="Filters" className="facets">
          {FACETS.filter((f) => f !== "status" || admin).map((f) =>
            result.facets[f].length === 0 && selected[f].length === 0 ? null : (
              <section key={f}>
                <h2>{FACET_LABEL[f]}</h2>
                <ul>
                  {[...new Set([...selected[f], ...result.facets[f].map((x) => x.value)])].map((value) => {
                    const on = selected[f].includes(value);
                    const count = result.facets[f].find((x) => x.value === value)?.count ?? 0;
                    const next = on ? selected[f].filter((x) => x !== value) : [...selected[f], value];
                    return (
                      <li key={value}>
                        <a
                          href={href(sp, { [f]: next, page: undefined })}
                          aria-current={on ? "true" : undefined}
                          className={on ? "facet-on" : undefined}
                        >
                          <span aria-hidden="true">{on ? "☑" : "☐"}</span>{" "}
                          {f === "format" ? (FORMAT_LABEL[value] ?? value) : value}{" "}
                          <span className="muted">{count}</span>
                        </a>
                      </li>
                    );
                  })}
                </ul>
              </section>
            ),
          )}
        </aside>
        <section aria-label="Results" className="results">
          <p className="meta" aria-live="polite">
            {result.total} model{result.total === 1 ? "" : "s"}
            {q ? ` matching “${q}”` : ""}
          </p>
          {result.items.length === 0 ? (
            <Empty title={q || FACETS.some((f) => selected[f].length) ? "No models match." : "No approved models yet."}>
              {q || FACETS.some((f) => selected[f].length) ? (
                <p>
                  Try fewer words or <a href="/">clear the filters</a>.
                </p>
              ) : (
                <p>
                  Publishers request mirrors of allowlisted tfhub.dev handles and upload their own models; admins
                  approve them after validation.
                </p>
              )}
            </Empty>
          ) : (
            <ul className="models">
              {result.items.map((m) => (
                <li key={m.handle} className="card model-card">
                  <div className="model-head">
                    <a href={`/${m.handle}`}>{m.title ?? m.handle}</a>
                    {m.latestVersion !== null && <span className="badge">v{m.latestVersion}</span>}
                    {m.aliases.map((a) => (
                      <span key={a.name} className="badge" title={`/${m.handle}/@${a.name} → version ${a.version}`}>
                        @{a.name} → v{a.version}
                      </span>
                    ))}
                    {m.format && <span className="badge">{FORMAT_LABEL[m.format] ?? m.format}</span>}
                  </div>
                  {m.title && <div className="meta mono">{m.handle}</div>}
                  {m.description && <p className="snippet">{plainText(m.description).slice(0, 220)}</p>}
                  <div className="meta">
                    {m.publisher}
                    {m.task ? ` · ${m.task}` : ""}
                    {m.license ? ` · ${m.license}` : ""} · {m.downloads.toLocaleString("en-US")} downloads
                    {m.tags.slice(0, 6).map((t) => (
                      <span key={t} className="tag">
                        {t}
                      </span>
                    ))}
                  </div>
                </li>
              ))}
            </ul>
          )}
          {pages > 1 && (
            <nav className="pager" aria-label="Pages">
              {page > 1 && <a href={href(sp, { page: String(page - 1) })}>← Previous</a>}
              <span className="meta">
                Page {page} of {pages}
              </span>
              {page < pages && <a href={href(sp, { page: String(page + 1) })}>Next →</a>}
            </nav>
          )}
        </section>
      </div>
    </>
  );
}
