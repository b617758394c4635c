import { apiRoute, json, parseBody } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { getRetentionRules, putRetentionRules } from "@/lib/models/retention.ts";
import { retentionRulesSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/retention: the retention rules, in order (admin).
export const GET = apiRoute(RULES.admin, async () => json({ rules: await getRetentionRules() }));

// PUT /api/v1/retention {"rules":[…]}: replaces the rules (admin).
export const PUT = apiRoute(RULES.admin, async (ctx) => {
  const body = await parseBody(ctx.req, retentionRulesSchema);
  return json({ rules: await putRetentionRules({ rules: body.rules, actor: ctx.principal, ip: ctx.ip }) });
});
