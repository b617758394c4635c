import { apiRoute } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { removeRule } from "@/lib/models/allowlist.ts";

export const dynamic = "force-dynamic";

// DELETE /api/v1/allowlist/{id}: remove a rule (admin).
export const DELETE = apiRoute<{ id: string }>(RULES.admin, async (ctx) => {
  await removeRule({ id: ctx.params.id, actor: ctx.principal, ip: ctx.ip });
  return new Response(null, { status: 204 });
});
