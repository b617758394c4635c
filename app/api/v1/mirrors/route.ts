import { z } from "zod";
import { apiRoute, json, parseBody, requirePermission } from "@/lib/http/api.ts";
import { canRequestMirror } from "@/lib/auth/permissions.ts";
import { requestMirror } from "@/lib/models/mirrors.ts";

export const dynamic = "force-dynamic";

export const mirrorRequestSchema = z.object({ url: z.string().min(1, "url is required").max(2000) });

// POST /api/v1/mirrors {"url"}: mirror an allowlisted upstream version (publisher, admin).
export const POST = apiRoute(async (ctx) => {
  await requirePermission(ctx, canRequestMirror(ctx.principal), "mirror");
  const { url } = await parseBody(ctx.req, mirrorRequestSchema);
  const { mirror, existing } = await requestMirror({ url, actor: ctx.principal, ip: ctx.ip });
  return json(mirror, { status: existing ? 200 : 202 });
});
