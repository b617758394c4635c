import { apiRoute, requirePermission } from "@/lib/http/api.ts";
import { canManageToken } from "@/lib/auth/permissions.ts";
import { revokeApiToken, tokenOwner } from "@/lib/auth/tokens.ts";
import { AppError } from "@/lib/errors.ts";

export const dynamic = "force-dynamic";

// DELETE /api/v1/tokens/{id}: revoke a token (its owner, or an admin). Idempotent: 204.
export const DELETE = apiRoute<{ id: string }>(async (ctx) => {
  await requirePermission(ctx, ctx.principal.kind === "user", "token");
  const owner = await tokenOwner(ctx.params.id);
  if (owner === null) throw new AppError("not_found", `no token ${ctx.params.id}`);
  await requirePermission(ctx, canManageToken(ctx.principal, owner), "token", `token ${ctx.params.id}`);
  await revokeApiToken({ tokenId: ctx.params.id, actor: ctx.principal, ip: ctx.ip });
  return new Response(null, { status: 204 });
});
