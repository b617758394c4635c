import { RULES } from "@/lib/auth/permissions.ts";
import { guardPage } from "@/lib/http/page-context.ts";
import { formatRule, type RulePreview } from "@/lib/upstream/allowlist.ts";
import { listRules, previewRule, ruleMatchCounts } from "@/lib/models/allowlist.ts";
import { toAppError } from "@/lib/errors.ts";
import { Empty, Flash, Forbidden, param, When, type SearchParams } from "../../ui/common.tsx";
import { addRuleAction, removeRuleAction } from "../actions.ts";
import { DataTable, type Column } from "../../ui/table.tsx";

export const dynamic = "force-dynamic";

type Rule = Awaited<ReturnType<typeof listRules>>[number];

const PREVIEW_COLUMNS: Array<Column<RulePreview["matches"][number]>> = [
  { header: "Model", cell: (m) => <a href={`/${m.handle}`}>{m.handle}</a> },
  { header: "Source", cell: (m) => m.source },
  { header: "Mirroring now", cell: (m) => (m.allowedNow ? "allowed" : "refused") },
  { header: "After saving", cell: (m) => (m.allowedAfter ? "allowed" : "refused") },
];

function buildRuleColumns(counts: Map<string, number>): Array<Column<Rule>> {
  return [
    {
      header: "Rule",
      cell: (r) => (
        <>
          <span className={`status status-${r.effect === "deny" ? "bad" : "ok"}`}>{r.effect}</span>{" "}
          <code>{r.pattern}</code>
        </>
      ),
    },
    {
      header: "Matches",
      cell: (r) => (
        <>
          {counts.get(r.id) ?? 0} model{counts.get(r.id) === 1 ? "" : "s"}
        </>
      ),
    },
    { header: "Note", cell: (r) => r.note ?? "" },
    { header: "Added", cell: (r) => <When at={r.createdAt} /> },
    {
      header: "Actions",
      srOnly: true,
      cell: (r) => (
        <form action={removeRuleAction}>
          <input type="hidden" name="id" value={r.id} />
          <input type="hidden" name="returnTo" value="/admin/allowlist" />
          <button className="btn btn-small" aria-label={`Remove ${r.effect} rule ${r.pattern}`}>
            Remove
          </button>
        </form>
      ),
    },
  ];
}

// /admin/allowlist: the allow and deny rules that decide what may be mirrored. A new rule is
// previewed against the models that exist before it is saved.
export default async function AllowlistPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const ctx = await guardPage("/admin/allowlist", RULES.admin);
  if (ctx.denied !== null) return <Forbidden message={ctx.denied} />;
  const [rules, counts] = await Promise.all([listRules(), ruleMatchCounts()]);
  const pattern = param(sp, "pattern")?.trim() ?? "";
  const effect = param(sp, "effect") === "deny" ? "deny" : "allow";
  const note = param(sp, "note") ?? "";
  let preview: RulePreview | null = null;
  let previewError: string | null = null;
  if (pattern) {
    try {
      preview = await previewRule({ text: `${effect === "deny" ? "!" : ""}${pattern}` });
    } catch (err) {
      previewError = toAppError(err).message;
    }
  }
  return (
    <>
      <h1>Allowlist</h1>
      <p className="lede">
        Mirroring is allowed only for handles an allow rule matches; deny rules win. Patterns are handle globs:{" "}
        <code>*</code> within a segment, <code>**</code> across segments, and a trailing <code>/*</code> covers deeper
        handles.
      </p>
      <Flash notice={param(sp, "notice")} error={param(sp, "error") ?? previewError ?? undefined} />
      <section className="card">
        <h2>New rule</h2>
        <form method="get" action="/admin/allowlist" className="row-form">
          <label>
            Effect
            <select name="effect" defaultValue={effect}>
              <option value="allow">allow</option>
              <option value="deny">deny</option>
            </select>
          </label>
          <label className="grow">
            Pattern
            <input name="pattern" defaultValue={pattern} required placeholder="google/imagenet/*" />
          </label>
          <label className="grow">
            Note
            <input name="note" defaultValue={note} placeholder="why (optional)" />
          </label>
          <button className="btn">Preview</button>
        </form>
        {preview && (
          <div className="preview" data-testid="rule-preview">
            <h3>
              <code>{formatRule(preview.rule)}</code> matches {preview.total} existing model
              {preview.total === 1 ? "" : "s"}
              {preview.changed > 0 ? `; it changes the decision for ${preview.changed}` : ""}
            </h3>
            {preview.matches.length > 0 && (
              <DataTable
                columns={PREVIEW_COLUMNS}
                rows={preview.matches}
                rowKey={(m) => m.handle}
                rowClassName={(m) => (m.allowedNow !== m.allowedAfter ? "diff-changed" : undefined)}
                className="compact"
                frame="none"
              />
            )}
            <form action={addRuleAction} className="buttons">
              <input type="hidden" name="pattern" value={pattern} />
              <input type="hidden" name="effect" value={effect} />
              <input type="hidden" name="note" value={note} />
              <input type="hidden" name="returnTo" value="/admin/allowlist" />
              <button className="btn btn-primary">Save {effect} rule</button>
              <a className="btn" href="/admin/allowlist">
                Cancel
              </a>
            </form>
          </div>
        )}
      </section>
      <h2>Rules</h2>
      <DataTable
        columns={buildRuleColumns(counts)}
        rows={rules}
        rowKey={(r) => r.id}
        empty={
          <Empty title="No rules: nothing can be mirrored.">
            <p>
              Add an allow rule such as <code>google/*</code>.
            </p>
          </Empty>
        }
      />
    </>
  );
}
