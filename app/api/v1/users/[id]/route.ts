import { apiRoute, json, parseBody } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { updateUser } from "@/lib/models/users.ts";
import { userUpdateSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// PATCH /api/v1/users/{id} {"role"?,"namespaces"?,"disabled"?,"password"?}: admin changes, each audited.
export const PATCH = apiRoute<{ id: string }>(null, async (ctx) => {
  await ctx.authorize(RULES.admin, `user ${ctx.params.id}`);
  const body = await parseBody(ctx.req, userUpdateSchema);
  return json(await updateUser({ id: ctx.params.id, ...body, actor: ctx.principal, ip: ctx.ip }));
});
