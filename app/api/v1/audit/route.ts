import { z } from "zod";
import { apiRoute, json, parseQuery, requirePermission } from "@/lib/http/api.ts";
import { canAdminister } from "@/lib/auth/permissions.ts";
import { listAuditEvents } from "@/lib/audit.ts";

export const dynamic = "force-dynamic";

export const auditQuerySchema = z.object({
  actor: z.string().min(1).optional(),
  action: z.string().min(1).optional(),
  outcome: z.enum(["ok", "denied", "error"]).optional(),
  target: z.string().min(1).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  before: z.string().regex(/^\d+$/, "expected an event id").optional(),
});

// GET /api/v1/audit?actor=&action=&target=: audit events, newest first (admin).
export const GET = apiRoute(async (ctx) => {
  await requirePermission(ctx, canAdminister(ctx.principal), "admin");
  const q = parseQuery(ctx.req, auditQuerySchema);
  const items = await listAuditEvents({
    ...q,
    since: q.since ? new Date(q.since) : undefined,
    until: q.until ? new Date(q.until) : undefined,
    before: q.before ? BigInt(q.before) : undefined,
  });
  return json({ items });
});
