import { apiRoute } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { revokeApiToken, tokenOwner } from "@/lib/auth/tokens.ts";
import { AppError } from "@/lib/errors.ts";

export const dynamic = "force-dynamic";

// DELETE /api/v1/tokens/{id}: revoke a token (its owner, or an admin). Idempotent: 204.
export const DELETE = apiRoute<{ id: string }>(RULES.tokens, async (ctx) => {
  const owner = await tokenOwner(ctx.params.id);
  if (owner === null) throw new AppError("not_found", `no token ${ctx.params.id}`);
  await ctx.authorize(RULES.manageToken(owner), `token ${ctx.params.id}`);
  await revokeApiToken({ tokenId: ctx.params.id, actor: ctx.principal, ip: ctx.ip });
  return new Response(null, { status: 204 });
});
