import { apiRoute, json, requirePermission } from "@/lib/http/api.ts";
import { canAdminister } from "@/lib/auth/permissions.ts";
import { getMirror } from "@/lib/models/mirrors.ts";
import { AppError } from "@/lib/errors.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/mirrors/{id}: status and progress of a mirror request (its requester, or an admin).
export const GET = apiRoute<{ id: string }>(async (ctx) => {
  await requirePermission(ctx, ctx.principal.kind === "user", "read");
  const mirror = await getMirror(ctx.params.id);
  const p = ctx.principal;
  const mine = p.kind === "user" && mirror.requestedById === p.userId;
  if (!mine && !canAdminister(p)) throw new AppError("not_found", `no mirror request ${ctx.params.id}`);
  const { requestedById: _r, ...view } = mirror;
  return json(view);
});
