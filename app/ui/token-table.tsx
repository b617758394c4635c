// The API token table of /tokens (one user's) and /admin/users (everyone's, with owners).
import type { listApiTokens } from "@/lib/auth/tokens.ts";
import { revokeTokenAction } from "../tokens/actions.ts";
import { Status, When } from "./common.tsx";
import { DataTable, type Column } from "./table.tsx";

type Token = Awaited<ReturnType<typeof listApiTokens>>[number];

export function TokenTable({ tokens, showOwner, returnTo }: { tokens: Token[]; showOwner: boolean; returnTo: string }) {
  const columns: Array<Column<Token>> = [
    {
      header: "Token",
      cell: (t) => (
        <>
          {t.name}
          <div className="meta">
            <code>{t.prefix}…</code>
          </div>
        </>
      ),
    },
    ...(showOwner ? [{ header: "Owner", cell: (t: Token) => t.owner }] : []),
    { header: "Scope", cell: (t) => t.scope },
    { header: "State", cell: (t) => <Status value={t.state} /> },
    { header: "Created", cell: (t) => <When at={t.createdAt} /> },
    { header: "Expires", cell: (t) => <When at={t.expiresAt} /> },
    { header: "Last used", cell: (t) => <When at={t.lastUsedAt} /> },
    {
      header: "Actions",
      srOnly: true,
      cell: (t) =>
        t.state === "active" && (
          <form action={revokeTokenAction}>
            <input type="hidden" name="id" value={t.id} />
            <input type="hidden" name="returnTo" value={returnTo} />
            <button
              className="btn btn-small btn-danger"
              aria-label={`Revoke ${t.name}${showOwner ? ` of ${t.owner}` : ""}`}
            >
              Revoke
            </button>
          </form>
        ),
    },
  ];
  return <DataTable columns={columns} rows={tokens} rowKey={(t) => t.id} />;
}
