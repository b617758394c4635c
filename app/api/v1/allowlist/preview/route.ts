import { apiRoute, json, parseQuery, requirePermission } from "@/lib/http/api.ts";
import { canAdminister } from "@/lib/auth/permissions.ts";
import { formatRule, previewRule } from "@/lib/upstream/allowlist.ts";
import { rulePreviewQuerySchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/allowlist/preview?rule=: which existing models a rule would match, and whose mirroring
// decision it would change, before it is saved (admin).
export const GET = apiRoute(async (ctx) => {
  await requirePermission(ctx, canAdminister(ctx.principal), "admin");
  const { rule } = parseQuery(ctx.req, rulePreviewQuerySchema);
  const preview = await previewRule({ text: rule });
  return json({ ...preview, rule: formatRule(preview.rule) });
});
