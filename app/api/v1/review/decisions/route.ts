import { z } from "zod";
import { apiRoute, json, parseBody, requirePermission } from "@/lib/http/api.ts";
import { canApprove } from "@/lib/auth/permissions.ts";
import { decideVersions } from "@/lib/models/review.ts";

export const dynamic = "force-dynamic";

export const decisionSchema = z
  .object({
    decision: z.enum(["approve", "reject"]),
    versions: z.array(z.object({ handle: z.string().min(1).max(300), version: z.number().int().positive() }).strict()).min(1).max(200),
    note: z.string().max(2000).optional(),
    reason: z.string().max(2000).optional(),
    overrideReason: z.string().max(2000).optional(),
  })
  .strict()
  .refine((b) => b.decision !== "reject" || (b.reason ?? "").trim().length > 0, { message: "a rejection needs a reason", path: ["reason"] });

// POST /api/v1/review/decisions: approve or reject several versions at once (admin). Each version
// is decided on its own; the response lists every outcome (200), refusals with their error.
export const POST = apiRoute(async (ctx) => {
  await requirePermission(ctx, canApprove(ctx.principal), "approve");
  const body = await parseBody(ctx.req, decisionSchema);
  const results = await decideVersions({ decision: body.decision, targets: body.versions, note: body.note, reason: body.reason, overrideReason: body.overrideReason, actor: ctx.principal, ip: ctx.ip });
  return json({ results, decided: results.filter((r) => r.ok).length, refused: results.filter((r) => !r.ok).length });
});
