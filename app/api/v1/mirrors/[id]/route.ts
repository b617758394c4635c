import { apiRoute, json } from "@/lib/http/api.ts";
import { canSeeMirror, RULES } from "@/lib/auth/permissions.ts";
import { concealUnless } from "@/lib/http/authorize.ts";
import { getMirror } from "@/lib/models/mirror-view.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/mirrors/{id}: status and progress of a mirror request (its requester, or an admin).
export const GET = apiRoute<{ id: string }>(RULES.signedIn, async (ctx) => {
  const mirror = await getMirror(ctx.params.id);
  concealUnless(canSeeMirror(ctx.principal, mirror.requestedById), `no mirror request ${ctx.params.id}`);
  const { requestedById: _r, ...view } = mirror;
  return json(view);
});
