import { apiRoute, json, parseQuery } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { formatRule } from "@/lib/upstream/allowlist.ts";
import { previewRule } from "@/lib/models/allowlist.ts";
import { rulePreviewQuerySchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/allowlist/preview?rule=: which existing models a rule would match, and whose mirroring
// decision it would change, before it is saved (admin).
export const GET = apiRoute(RULES.admin, async (ctx) => {
  const { rule } = parseQuery(ctx.req, rulePreviewQuerySchema);
  const preview = await previewRule({ text: rule });
  return json({ ...preview, rule: formatRule(preview.rule) });
});
