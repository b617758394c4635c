import { apiRoute, requirePermission } from "@/lib/http/api.ts";
import { canAdminister } from "@/lib/auth/permissions.ts";
import { removeRule } from "@/lib/upstream/allowlist.ts";

export const dynamic = "force-dynamic";

// DELETE /api/v1/allowlist/{id}: remove a rule (admin).
export const DELETE = apiRoute<{ id: string }>(async (ctx) => {
  await requirePermission(ctx, canAdminister(ctx.principal), "admin");
  await removeRule({ id: ctx.params.id, actor: ctx.principal, ip: ctx.ip });
  return new Response(null, { status: 204 });
});
