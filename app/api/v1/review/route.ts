import { apiRoute, json, parseQuery, requirePermission } from "@/lib/http/api.ts";
import { canApprove } from "@/lib/auth/permissions.ts";
import { AWAITING, listReviewQueue } from "@/lib/models/review.ts";
import { reviewQuerySchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/review?status=&handle=: versions awaiting a decision, with evidence and the diff
// against the previous approved version (admin).
export const GET = apiRoute(async (ctx) => {
  await requirePermission(ctx, canApprove(ctx.principal), "approve");
  const q = parseQuery(ctx.req, reviewQuerySchema);
  return json({ items: await listReviewQueue({ statuses: q.status ? [q.status] : undefined, handle: q.handle, limit: q.limit }) });
});
