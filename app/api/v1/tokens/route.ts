import { apiRoute, json, parseBody, parseQuery } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { createApiToken, listApiTokens } from "@/lib/auth/tokens.ts";
import { tokenListQuerySchema, tokenCreateSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/tokens[?all=true]: the caller's tokens (all users' with ?all=true, admin). Never secrets.
export const GET = apiRoute(RULES.tokens, async (ctx) => {
  const q = parseQuery(ctx.req, tokenListQuerySchema);
  if (q.all === "true") await ctx.authorize(RULES.admin);
  return json({ items: await listApiTokens({ userId: q.all === "true" ? undefined : ctx.principal.userId }) });
});

// POST /api/v1/tokens {"scope","name"?,"expiresInDays"?}: a new token, shown once (201).
export const POST = apiRoute(RULES.tokens, async (ctx) => {
  const body = await parseBody(ctx.req, tokenCreateSchema);
  const p = await ctx.authorize(RULES.createToken(body.scope), body.scope);
  const forOther = body.email !== undefined && body.email.toLowerCase() !== p.email;
  if (forOther) await ctx.authorize(RULES.admin, body.email);
  const created = await createApiToken({
    email: body.email ?? p.email,
    scope: body.scope,
    name: body.name,
    expiresInDays: body.expiresInDays,
    actor: p,
    ip: ctx.ip,
  });
  return json(
    { id: created.id, token: created.token, scope: body.scope, expiresAt: created.expiresAt },
    { status: 201, headers: { "cache-control": "no-store" } },
  );
});
