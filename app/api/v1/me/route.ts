import { apiRoute, json } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/me: who the credentials belong to (for the CLI and scripts).
export const GET = apiRoute(RULES.signedIn, async (ctx) => {
  const p = ctx.principal;
  return json({ id: p.userId, email: p.email, role: p.role, scope: p.scope, via: p.via, namespaces: p.namespaces });
});
