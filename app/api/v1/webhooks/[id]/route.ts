import { apiRoute } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { deleteWebhook } from "@/lib/models/webhooks.ts";

export const dynamic = "force-dynamic";

// DELETE /api/v1/webhooks/{id}: remove a webhook and its deliveries (admin).
export const DELETE = apiRoute<{ id: string }>(RULES.admin, async (ctx) => {
  await deleteWebhook({ id: ctx.params.id, actor: ctx.principal, ip: ctx.ip });
  return new Response(null, { status: 204 });
});
