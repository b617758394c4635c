import { apiRoute, json, parseBody } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { createWebhook, listWebhooks } from "@/lib/models/webhooks.ts";
import { createWebhookSchema } from "@/lib/webhooks/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/webhooks: every webhook, without secrets (admin).
export const GET = apiRoute(RULES.admin, async () => {
  return json({ items: await listWebhooks() });
});

// POST /api/v1/webhooks {"url","events":[…],"description"?}: register a receiver; the signing secret
// is in this answer only (admin).
export const POST = apiRoute(RULES.admin, async (ctx) => {
  const body = await parseBody(ctx.req, createWebhookSchema);
  const w = await createWebhook({ ...body, actor: ctx.principal, ip: ctx.ip });
  return json(
    { id: w.id, url: w.url, events: w.events, description: w.description, enabled: w.enabled, secret: w.secret },
    { status: 201 },
  );
});
