import { apiRoute, json, parseBody, requirePermission } from "@/lib/http/api.ts";
import { canAdminister, canRequestMirror } from "@/lib/auth/permissions.ts";
import { listMirrorRequests, requestMirror } from "@/lib/models/mirrors.ts";
import { mirrorRequestSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// POST /api/v1/mirrors {"url"}: mirror an allowlisted upstream version (publisher, admin).
export const POST = apiRoute(async (ctx) => {
  await requirePermission(ctx, canRequestMirror(ctx.principal), "mirror");
  const { url } = await parseBody(ctx.req, mirrorRequestSchema);
  const { mirror, existing } = await requestMirror({ url, actor: ctx.principal, ip: ctx.ip });
  return json(mirror, { status: existing ? 200 : 202 });
});

// GET /api/v1/mirrors: recent mirror requests, newest first (admins see everyone's, others their own).
export const GET = apiRoute(async (ctx) => {
  const p = ctx.principal;
  await requirePermission(ctx, p.kind === "user", "read");
  if (p.kind !== "user") throw new Error("unreachable");
  return json({ items: await listMirrorRequests({ requestedById: canAdminister(p) ? undefined : p.userId }) });
});
