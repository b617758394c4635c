import { guardPage } from "@/lib/http/page-context.ts";
import { listApiTokens } from "@/lib/auth/tokens.ts";
import { maxScopeForRole, RULES } from "@/lib/auth/permissions.ts";
import { SCOPES } from "@/lib/auth/principal.ts";
import { getEnv } from "@/lib/env.ts";
import { Empty, Flash, Forbidden, param, type SearchParams } from "../ui/common.tsx";
import { TokenTable } from "../ui/token-table.tsx";
import { CreateTokenForm } from "./create-token-form.tsx";

export const dynamic = "force-dynamic";

// /tokens: the signed-in user's API tokens (for the CLI, scripts and clients).
export default async function TokensPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const ctx = await guardPage("/tokens", RULES.tokens);
  if (ctx.denied !== null) return <Forbidden message={ctx.denied} />;
  const me = ctx.principal;
  const tokens = await listApiTokens({ userId: me.userId });
  const scopes = SCOPES.slice(0, SCOPES.indexOf(maxScopeForRole(me.role)) + 1);
  return (
    <>
      <h1>API tokens</h1>
      <p className="lede">
        Tokens authenticate the CLI (<code>HUBKEEP_TOKEN</code>), scripts and hub clients. A token is shown once, stored
        only as a hash, and never above your role ({me.role}).
      </p>
      <Flash notice={param(sp, "notice")} error={param(sp, "error")} />
      <CreateTokenForm scopes={[...scopes]} publicUrl={getEnv().publicUrl} />
      <h2>Your tokens</h2>
      {tokens.length === 0 ? (
        <Empty title="You have no tokens yet." />
      ) : (
        <TokenTable tokens={tokens} showOwner={false} returnTo="/tokens" />
      )}
    </>
  );
}
