import { apiRoute, json, parseBody, requirePermission } from "@/lib/http/api.ts";
import { canAdminister } from "@/lib/auth/permissions.ts";
import { createUser, listUsers } from "@/lib/models/users.ts";
import { roleSchema, userCreateSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/users: users, roles, namespaces, sign-in methods (admin).
export const GET = apiRoute(async (ctx) => {
  await requirePermission(ctx, canAdminister(ctx.principal), "admin");
  return json({ items: await listUsers() });
});

// POST /api/v1/users {"email","role","password"?}: create a local user (admin). 201.
export const POST = apiRoute(async (ctx) => {
  await requirePermission(ctx, canAdminister(ctx.principal), "admin");
  const body = await parseBody(ctx.req, userCreateSchema);
  const user = await createUser({ ...body, actor: ctx.principal, ip: ctx.ip, mustBeNew: true });
  return json({ id: user.id, email: user.email, role: user.role }, { status: 201 });
});
