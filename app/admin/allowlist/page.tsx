import { canAdminister } from "@/lib/auth/permissions.ts";
import { guardPage } from "@/lib/http/page-context.ts";
import { formatRule, listRules, previewRule, ruleMatchCounts, type RulePreview } from "@/lib/upstream/allowlist.ts";
import { toAppError } from "@/lib/errors.ts";
import { Empty, Flash, Forbidden, param, When, type SearchParams } from "../../ui/common.tsx";
import { addRuleAction, removeRuleAction } from "../actions.ts";

export const dynamic = "force-dynamic";

// /admin/allowlist: the allow and deny rules that decide what may be mirrored. A new rule is
// previewed against the models that exist before it is saved.
export default async function AllowlistPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const ctx = await guardPage("/admin/allowlist", canAdminister, "admin");
  if (ctx.denied) return <Forbidden message={ctx.denied} />;
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
        Mirroring is allowed only for handles an allow rule matches; deny rules win. Patterns are handle globs: <code>*</code> within a segment,{" "}
        <code>**</code> across segments, and a trailing <code>/*</code> covers deeper handles.
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
              <code>{formatRule(preview.rule)}</code> matches {preview.total} existing model{preview.total === 1 ? "" : "s"}
              {preview.changed > 0 ? `; it changes the decision for ${preview.changed}` : ""}
            </h3>
            {preview.matches.length > 0 && (
              <table className="compact">
                <thead>
                  <tr>
                    <th scope="col">Model</th>
                    <th scope="col">Source</th>
                    <th scope="col">Mirroring now</th>
                    <th scope="col">After saving</th>
                  </tr>
                </thead>
                <tbody>
                  {preview.matches.map((m) => (
                    <tr key={m.handle} className={m.allowedNow !== m.allowedAfter ? "diff-changed" : undefined}>
                      <td>
                        <a href={`/${m.handle}`}>{m.handle}</a>
                      </td>
                      <td>{m.source}</td>
                      <td>{m.allowedNow ? "allowed" : "refused"}</td>
                      <td>{m.allowedAfter ? "allowed" : "refused"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
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
      {rules.length === 0 ? (
        <Empty title="No rules: nothing can be mirrored.">
          <p>Add an allow rule such as <code>google/*</code>.</p>
        </Empty>
      ) : (
        <div className="card table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Matches</th>
                <th scope="col">Note</th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rules.map((r) => (
                <tr key={r.id}>
                  <td>
                    <span className={`status status-${r.effect === "deny" ? "bad" : "ok"}`}>{r.effect}</span> <code>{r.pattern}</code>
                  </td>
                  <td>
                    {counts.get(r.id) ?? 0} model{counts.get(r.id) === 1 ? "" : "s"}
                  </td>
                  <td>{r.note ?? ""}</td>
                  <td>
                    <When at={r.createdAt} />
                  </td>
                  <td>
                    <form action={removeRuleAction}>
                      <input type="hidden" name="id" value={r.id} />
                      <input type="hidden" name="returnTo" value="/admin/allowlist" />
                      <button className="btn btn-small" aria-label={`Remove ${r.effect} rule ${r.pattern}`}>
                        Remove
                      </button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
