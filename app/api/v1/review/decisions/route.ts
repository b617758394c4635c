import { apiRoute, json, parseBody } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { decideVersions } from "@/lib/models/review.ts";
import { decisionSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// POST /api/v1/review/decisions: approve or reject several versions at once (admin). Each version
// is decided on its own; the response lists every outcome (200), refusals with their error.
export const POST = apiRoute(RULES.approve, async (ctx) => {
  const body = await parseBody(ctx.req, decisionSchema);
  const results = await decideVersions({
    decision: body.decision,
    targets: body.versions,
    note: body.note,
    reason: body.reason,
    overrideReason: body.overrideReason,
    actor: ctx.principal,
    ip: ctx.ip,
  });
  return json({ results, decided: results.filter((r) => r.ok).length, refused: results.filter((r) => !r.ok).length });
});
