import { apiRoute, json, parseBody } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { runRetention } from "@/lib/models/retention.ts";
import { retentionRunSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// POST /api/v1/retention/run {"dryRun": true|false}: what the rules delete now, listed (dry run) or
// deleted (admin).
export const POST = apiRoute(RULES.admin, async (ctx) => {
  const body = await parseBody(ctx.req, retentionRunSchema);
  return json(await runRetention({ dryRun: body.dryRun, actor: ctx.principal, ip: ctx.ip }));
});
