import { apiRoute, json, parseBody } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { listQuotas, putQuota } from "@/lib/models/quotas.ts";
import { quotaSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/quotas: every quota with its usage (admin).
export const GET = apiRoute(RULES.admin, async () => json({ items: await listQuotas() }));

// PUT /api/v1/quotas {"namespace","maxBytes"}: sets a namespace's quota (admin). A limit below the
// current usage is allowed; the answer's `warning` says so.
export const PUT = apiRoute(RULES.admin, async (ctx) => {
  const body = await parseBody(ctx.req, quotaSchema);
  const { quota, created, warning } = await putQuota({ ...body, actor: ctx.principal, ip: ctx.ip });
  return json({ ...quota, warning }, { status: created ? 201 : 200 });
});
