import { apiRoute, json, requirePermission } from "@/lib/http/api.ts";
import { canAdminister } from "@/lib/auth/permissions.ts";
import { resyncMirror } from "@/lib/models/mirrors.ts";

export const dynamic = "force-dynamic";

// POST /api/v1/mirrors/{id}/resync: re-fetch from upstream and compare; flags drift, never changes bytes (admin).
export const POST = apiRoute<{ id: string }>(async (ctx) => {
  await requirePermission(ctx, canAdminister(ctx.principal), "admin", ctx.params.id);
  return json(await resyncMirror({ mirrorId: ctx.params.id, actor: ctx.principal, ip: ctx.ip }));
});
