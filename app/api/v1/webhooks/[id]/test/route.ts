import { apiRoute, json } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { sendTestEvent } from "@/lib/models/webhooks.ts";
import { TEST_EVENT_TYPE } from "@/lib/webhooks/events.ts";

export const dynamic = "force-dynamic";

// POST /api/v1/webhooks/{id}/test: queue a signed `webhook.test` event to this webhook (admin).
export const POST = apiRoute<{ id: string }>(RULES.admin, async (ctx) => {
  const sent = await sendTestEvent({ id: ctx.params.id, actor: ctx.principal });
  return json({ ...sent, type: TEST_EVENT_TYPE }, { status: 202 });
});
