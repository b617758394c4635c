import { apiRoute, json, parseQuery } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { listDeliveries } from "@/lib/models/webhooks.ts";
import { deliveriesQuerySchema } from "@/lib/webhooks/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/webhooks/{id}/deliveries?limit=: the webhook's deliveries, newest first (admin).
export const GET = apiRoute<{ id: string }>(RULES.admin, async (ctx) => {
  const { limit } = parseQuery(ctx.req, deliveriesQuerySchema);
  return json({ items: await listDeliveries(ctx.params.id, { limit }) });
});
