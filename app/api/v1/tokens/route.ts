import { apiRoute, json, parseBody, parseQuery, requirePermission } from "@/lib/http/api.ts";
import { canAdminister, canCreateToken } from "@/lib/auth/permissions.ts";
import { createApiToken, listApiTokens } from "@/lib/auth/tokens.ts";
import { tokenListQuerySchema, tokenCreateSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/tokens[?all=true]: the caller's tokens (all users' with ?all=true, admin). Never secrets.
export const GET = apiRoute(async (ctx) => {
  const p = ctx.principal;
  const q = parseQuery(ctx.req, tokenListQuerySchema);
  await requirePermission(ctx, p.kind === "user", "token");
  if (q.all === "true") await requirePermission(ctx, canAdminister(p), "admin");
  return json({ items: await listApiTokens({ userId: q.all === "true" || p.kind !== "user" ? undefined : p.userId }) });
});

// POST /api/v1/tokens {"scope","name"?,"expiresInDays"?}: a new token, shown once (201).
export const POST = apiRoute(async (ctx) => {
  const p = ctx.principal;
  await requirePermission(ctx, p.kind === "user", "token");
  const body = await parseBody(ctx.req, tokenCreateSchema);
  await requirePermission(ctx, canCreateToken(p, body.scope), "token", body.scope);
  if (p.kind !== "user") throw new Error("unreachable");
  const forOther = body.email !== undefined && body.email.toLowerCase() !== p.email;
  if (forOther) await requirePermission(ctx, canAdminister(p), "admin", body.email);
  const created = await createApiToken({ email: body.email ?? p.email, scope: body.scope, name: body.name, expiresInDays: body.expiresInDays, actor: p, ip: ctx.ip });
  return json({ id: created.id, token: created.token, scope: body.scope, expiresAt: created.expiresAt }, { status: 201, headers: { "cache-control": "no-store" } });
});
