import { apiRoute, json, parseQuery } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { listAuditEvents } from "@/lib/models/audit.ts";
import { auditQuerySchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/audit?actor=&action=&target=: audit events, newest first (admin).
export const GET = apiRoute(RULES.admin, async (ctx) => {
  const q = parseQuery(ctx.req, auditQuerySchema);
  const items = await listAuditEvents({
    ...q,
    since: q.since ? new Date(q.since) : undefined,
    until: q.until ? new Date(q.until) : undefined,
    before: q.before ? BigInt(q.before) : undefined,
  });
  return json({ items });
});
