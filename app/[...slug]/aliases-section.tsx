// "Aliases": movable names for approved versions (`/{handle}/@{name}` redirects to the pinned URL).
// Admins set, move and remove them here; everyone sees where each points.
import type { AliasView } from "@/lib/models/aliases.ts";
import { When } from "../ui/common.tsx";
import { removeAliasAction, setAliasAction } from "./actions.ts";

export function AliasesSection({
  handle,
  aliases,
  approved,
  admin,
  returnTo,
  publicUrl,
}: {
  handle: string;
  aliases: AliasView[];
  /** Approved version numbers, newest first (what an alias may point to). */
  approved: number[];
  admin: boolean;
  returnTo: string;
  publicUrl: string;
}) {
  if (aliases.length === 0 && !admin) return null;
  return (
    <section className="card" aria-labelledby="aliases">
      <h2 id="aliases">Aliases</h2>
      <p className="meta">
        <code>
          {publicUrl}/{handle}/@<i>name</i>
        </code>{" "}
        redirects (302, not cached) to the pinned URL of the version the alias points to.{" "}
        <strong>A client that caches by URL keeps the first version it got:</strong> <code>tensorflow_hub</code> caches
        under a hash of the URL, so after a move it still loads the old version until its cache is cleared. Where the
        exact bytes matter, use the pinned URLs the snippets show.
      </p>
      {aliases.length > 0 ? (
        <ul data-testid="aliases">
          {aliases.map((a) => (
            <li key={a.name}>
              <code>@{a.name}</code> → <a href={`/${handle}/${a.version}`}>version {a.version}</a>
              {a.status !== "approved" && (
                <>
                  {" "}
                  <span className="status status-bad">{a.status}</span> nothing is served under it
                </>
              )}{" "}
              <span className="muted">
                set by {a.setBy ?? "a deleted user"} <When at={a.updatedAt} />
              </span>
              {admin && (
                <form action={removeAliasAction} className="inline-form">
                  <input type="hidden" name="handle" value={handle} />
                  <input type="hidden" name="name" value={a.name} />
                  <input type="hidden" name="returnTo" value={returnTo} />
                  <button className="btn btn-small" aria-label={`Remove @${a.name}`}>
                    Remove
                  </button>
                </form>
              )}
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No aliases.</p>
      )}
      {admin &&
        (approved.length > 0 ? (
          <form action={setAliasAction} className="row-form">
            <input type="hidden" name="handle" value={handle} />
            <input type="hidden" name="returnTo" value={returnTo} />
            <label>
              Alias
              <input name="name" required pattern="[a-z][a-z0-9\-]{0,31}" placeholder="prod" />
            </label>
            <label>
              Version
              <select name="version" defaultValue={String(approved[0])}>
                {approved.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
            <button className="btn">Set alias</button>
          </form>
        ) : (
          <p className="muted">An alias can point only to an approved version; this model has none yet.</p>
        ))}
    </section>
  );
}
