import { apiRoute } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { deleteQuota } from "@/lib/models/quotas.ts";

export const dynamic = "force-dynamic";

// DELETE /api/v1/quotas/{id}: removes a quota (admin).
export const DELETE = apiRoute<{ id: string }>(RULES.admin, async (ctx) => {
  await deleteQuota({ id: ctx.params.id, actor: ctx.principal, ip: ctx.ip });
  return new Response(null, { status: 204 });
});
