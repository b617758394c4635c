import { apiRoute, json, parseBody } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { formatRule } from "@/lib/upstream/allowlist.ts";
import { addRule, listRules } from "@/lib/models/allowlist.ts";
import { allowRuleSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/allowlist: the allow and deny rules (admin).
export const GET = apiRoute(RULES.admin, async () => {
  const rules = await listRules();
  return json({ items: rules.map((r) => ({ ...r, rule: formatRule(r) })) });
});

// POST /api/v1/allowlist {"rule","note"?}: add a rule; `!pattern` denies (admin).
export const POST = apiRoute(RULES.admin, async (ctx) => {
  const body = await parseBody(ctx.req, allowRuleSchema);
  const rule = await addRule({ text: body.rule, note: body.note, actor: ctx.principal, ip: ctx.ip });
  return json({ ...rule, rule: formatRule(rule) }, { status: 201 });
});
