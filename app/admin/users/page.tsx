import { RULES } from "@/lib/auth/permissions.ts";
import { guardPage } from "@/lib/http/page-context.ts";
import { listUsers } from "@/lib/models/users.ts";
import { listApiTokens } from "@/lib/auth/tokens.ts";
import { Empty, Flash, Forbidden, param, Status, When, type SearchParams } from "../../ui/common.tsx";
import { createUserAction, updateUserAction } from "../actions.ts";
import { TokenTable } from "../../ui/token-table.tsx";
import { DataTable, type Column } from "../../ui/table.tsx";

export const dynamic = "force-dynamic";

type User = Awaited<ReturnType<typeof listUsers>>[number];

function buildUserColumns(me: string): Array<Column<User>> {
  return [
    {
      header: "User",
      cell: (u) => (
        <>
          <strong>{u.email}</strong>
          {u.id === me && <span className="muted"> (you)</span>}
          <div className="meta">
            {u.signIn.length ? u.signIn.join(", ") : "no sign-in method"} · {u.activeTokens} active token
            {u.activeTokens === 1 ? "" : "s"}
          </div>
        </>
      ),
    },
    {
      header: "Role and namespaces",
      cell: (u) => (
        <form action={updateUserAction} className="row-form tight">
          <input type="hidden" name="id" value={u.id} />
          <input type="hidden" name="op" value="save" />
          <input type="hidden" name="returnTo" value="/admin/users" />
          <label>
            <span className="sr-only">Role of {u.email}</span>
            <select name="role" defaultValue={u.role}>
              <option value="viewer">viewer</option>
              <option value="publisher">publisher</option>
              <option value="admin">admin</option>
            </select>
          </label>
          <label className="grow">
            <span className="sr-only">Namespaces of {u.email}</span>
            <input
              name="namespaces"
              defaultValue={u.namespaces.join(", ")}
              placeholder="internal/team/* (publishers)"
            />
          </label>
          <button className="btn btn-small">Save</button>
        </form>
      ),
    },
    { header: "Last sign-in", cell: (u) => <When at={u.lastSignInAt} /> },
    {
      header: "Account",
      cell: (u) => (
        <>
          {u.disabled && <Status value="revoked" />}
          <form action={updateUserAction}>
            <input type="hidden" name="id" value={u.id} />
            <input type="hidden" name="op" value={u.disabled ? "enable" : "disable"} />
            <input type="hidden" name="returnTo" value="/admin/users" />
            <button
              className="btn btn-small"
              disabled={u.id === me}
              aria-label={`${u.disabled ? "Enable" : "Disable"} ${u.email}`}
            >
              {u.disabled ? "Enable" : "Disable"}
            </button>
          </form>
        </>
      ),
    },
  ];
}

// /admin/users: users, roles, publisher namespaces, and every API token.
export default async function UsersPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const ctx = await guardPage("/admin/users", RULES.admin);
  if (ctx.denied !== null) return <Forbidden message={ctx.denied} />;
  const [users, tokens] = await Promise.all([listUsers(), listApiTokens({})]);
  const me = ctx.principal.userId;
  return (
    <>
      <h1>Users &amp; tokens</h1>
      <p className="lede">
        Roles: viewers browse and download approved models; publishers also mirror and upload under their namespaces;
        admins decide.
      </p>
      <Flash notice={param(sp, "notice")} error={param(sp, "error")} />
      <DataTable
        columns={buildUserColumns(me)}
        rows={users}
        rowKey={(u) => u.id}
        rowClassName={(u) => (u.disabled ? "disabled-row" : undefined)}
      />
      <section className="card">
        <h2>Add a user</h2>
        <form action={createUserAction} className="row-form">
          <input type="hidden" name="returnTo" value="/admin/users" />
          <label className="grow">
            Email
            <input name="email" type="email" required />
          </label>
          <label>
            Role
            <select name="role" defaultValue="viewer">
              <option value="viewer">viewer</option>
              <option value="publisher">publisher</option>
              <option value="admin">admin</option>
            </select>
          </label>
          <label className="grow">
            Password
            <input
              name="password"
              type="password"
              minLength={8}
              autoComplete="new-password"
              placeholder="empty for single sign-on only"
            />
          </label>
          <button className="btn btn-primary">Add user</button>
        </form>
      </section>
      <h2 id="tokens">API tokens</h2>
      {tokens.length === 0 ? (
        <Empty title="No API tokens yet.">
          <p>
            Users create their own on <a href="/tokens">API tokens</a>; on the server host,{" "}
            <code>hubkeep token create</code>.
          </p>
        </Empty>
      ) : (
        <TokenTable tokens={tokens} showOwner returnTo="/admin/users#tokens" />
      )}
    </>
  );
}
