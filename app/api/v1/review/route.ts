import { apiRoute, json, parseQuery } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { listReviewQueue } from "@/lib/models/review.ts";
import { reviewQuerySchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/review?status=&handle=: versions awaiting a decision, with evidence and the diff
// against the previous approved version (admin).
export const GET = apiRoute(RULES.approve, async (ctx) => {
  const q = parseQuery(ctx.req, reviewQuerySchema);
  return json({
    items: await listReviewQueue({ statuses: q.status ? [q.status] : undefined, handle: q.handle, limit: q.limit }),
  });
});
