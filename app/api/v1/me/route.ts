import { apiRoute, json, requirePermission } from "@/lib/http/api.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/me: who the credentials belong to (for the CLI and scripts).
export const GET = apiRoute(async (ctx) => {
  const p = ctx.principal;
  await requirePermission(ctx, p.kind === "user", "read");
  if (p.kind !== "user") throw new Error("unreachable");
  return json({ id: p.userId, email: p.email, role: p.role, scope: p.scope, via: p.via, namespaces: p.namespaces });
});
