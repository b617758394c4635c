import { apiRoute, json, parseBody } from "@/lib/http/api.ts";
import { mirrorListOwner, RULES } from "@/lib/auth/permissions.ts";
import { requestMirror } from "@/lib/models/mirror-request.ts";
import { listMirrorRequests } from "@/lib/models/mirror-view.ts";
import { mirrorRequestSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// POST /api/v1/mirrors {"url"}: mirror an allowlisted upstream version (publisher, admin).
export const POST = apiRoute(RULES.mirror, async (ctx) => {
  const { url } = await parseBody(ctx.req, mirrorRequestSchema);
  const { mirror, existing } = await requestMirror({ url, actor: ctx.principal, ip: ctx.ip });
  return json(mirror, { status: existing ? 200 : 202 });
});

// GET /api/v1/mirrors: recent mirror requests, newest first (admins see everyone's, others their own).
export const GET = apiRoute(RULES.signedIn, async (ctx) => {
  return json({ items: await listMirrorRequests({ requestedById: mirrorListOwner(ctx.principal) }) });
});
