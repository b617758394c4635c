import { guardPage } from "@/lib/http/page-context.ts";
import { listApiTokens } from "@/lib/auth/tokens.ts";
import { maxScopeForRole } from "@/lib/auth/permissions.ts";
import { getEnv } from "@/lib/env.ts";
import { Empty, Flash, Forbidden, param, Status, When, type SearchParams } from "../ui/common.tsx";
import { revokeTokenAction } from "../admin/actions.ts";
import { CreateTokenForm } from "./create-token-form.tsx";

export const dynamic = "force-dynamic";

// /tokens: the signed-in user's API tokens (for the CLI, scripts and clients).
export default async function TokensPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const ctx = await guardPage("/tokens", (p) => p.kind === "user", "token");
  if (ctx.denied || ctx.principal.kind !== "user") return <Forbidden message={ctx.denied ?? "Sign in first."} />;
  const me = ctx.principal;
  const tokens = await listApiTokens({ userId: me.userId });
  const scopes = (["read", "publish", "admin"] as const).slice(0, ["read", "publish", "admin"].indexOf(maxScopeForRole(me.role)) + 1);
  return (
    <>
      <h1>API tokens</h1>
      <p className="lede">
        Tokens authenticate the CLI (<code>HUBKEEP_TOKEN</code>), scripts and hub clients. A token is shown once, stored only as a hash, and never above your role ({me.role}).
      </p>
      <Flash notice={param(sp, "notice")} error={param(sp, "error")} />
      <CreateTokenForm scopes={[...scopes]} publicUrl={getEnv().publicUrl} />
      <h2>Your tokens</h2>
      {tokens.length === 0 ? (
        <Empty title="You have no tokens yet." />
      ) : (
        <div className="card table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
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
                        <input type="hidden" name="returnTo" value="/tokens" />
                        <button className="btn btn-small btn-danger" aria-label={`Revoke ${t.name}`}>
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
      )}
    </>
  );
}
