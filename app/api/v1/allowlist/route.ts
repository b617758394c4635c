import { apiRoute, json, parseBody, requirePermission } from "@/lib/http/api.ts";
import { canAdminister } from "@/lib/auth/permissions.ts";
import { addRule, formatRule, listRules } from "@/lib/upstream/allowlist.ts";
import { allowRuleSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/allowlist: the allow and deny rules (admin).
export const GET = apiRoute(async (ctx) => {
  await requirePermission(ctx, canAdminister(ctx.principal), "admin");
  const rules = await listRules();
  return json({ items: rules.map((r) => ({ ...r, rule: formatRule(r) })) });
});

// POST /api/v1/allowlist {"rule","note"?}: add a rule; `!pattern` denies (admin).
export const POST = apiRoute(async (ctx) => {
  await requirePermission(ctx, canAdminister(ctx.principal), "admin");
  const body = await parseBody(ctx.req, allowRuleSchema);
  const rule = await addRule({ text: body.rule, note: body.note, actor: ctx.principal, ip: ctx.ip });
  return json({ ...rule, rule: formatRule(rule) }, { status: 201 });
});
