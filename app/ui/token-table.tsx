// The API token table of /tokens (one user's) and /admin/users (everyone's, with owners).
import type { listApiTokens } from "@/lib/auth/tokens.ts";
import { revokeTokenAction } from "../admin/actions.ts";
import { Status, When } from "./common.tsx";

type Token = Awaited<ReturnType<typeof listApiTokens>>[number];

export function TokenTable({ tokens, showOwner, returnTo }: { tokens: Token[]; showOwner: boolean; returnTo: string }) {
  return (
    <div className="card table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Token</th>
            {showOwner && <th scope="col">Owner</th>}
            <th scope="col">Scope</th>
            <th scope="col">State</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id}>
              <td>
                {t.name}
                <div className="meta">
                  <code>{t.prefix}…</code>
                </div>
              </td>
              {showOwner && <td>{t.owner}</td>}
              <td>{t.scope}</td>
              <td>
                <Status value={t.state} />
              </td>
              <td>
                <When at={t.createdAt} />
              </td>
              <td>
                <When at={t.expiresAt} />
              </td>
              <td>
                <When at={t.lastUsedAt} />
              </td>
              <td>
                {t.state === "active" && (
                  <form action={revokeTokenAction}>
                    <input type="hidden" name="id" value={t.id} />
                    <input type="hidden" name="returnTo" value={returnTo} />
                    <button className="btn btn-small btn-danger" aria-label={`Revoke ${t.name}${showOwner ? ` of ${t.owner}` : ""}`}>
                      Revoke
                    </button>
                  </form>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
