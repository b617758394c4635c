import { apiRoute, json, parseBody } from "@/lib/http/api.ts";
import { RULES } from "@/lib/auth/permissions.ts";
import { createUser, listUsers } from "@/lib/models/users.ts";
import { userCreateSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/users: users, roles, namespaces, sign-in methods (admin).
export const GET = apiRoute(RULES.admin, async () => {
  return json({ items: await listUsers() });
});

// POST /api/v1/users {"email","role","password"?}: create a local user (admin). 201.
export const POST = apiRoute(RULES.admin, async (ctx) => {
  const body = await parseBody(ctx.req, userCreateSchema);
  const user = await createUser({ ...body, actor: ctx.principal, ip: ctx.ip, mustBeNew: true });
  return json({ id: user.id, email: user.email, role: user.role }, { status: 201 });
});
