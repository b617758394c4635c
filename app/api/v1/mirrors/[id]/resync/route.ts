import { apiRoute, json } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { resyncMirror } from "@/lib/models/mirror-resync.ts";

export const dynamic = "force-dynamic";

// POST /api/v1/mirrors/{id}/resync: re-fetch from upstream and compare; flags drift, never changes bytes (admin).
export const POST = apiRoute<{ id: string }>(null, async (ctx) => {
  await ctx.authorize(RULES.admin, ctx.params.id);
  return json(await resyncMirror({ mirrorId: ctx.params.id, actor: ctx.principal, ip: ctx.ip }));
});
