import { apiRoute, json, requirePermission } from "@/lib/http/api.ts";
import { parseModelPath } from "@/lib/http/model-path.ts";
import { canAdminister, canReadApproved, canReadUnapproved } from "@/lib/auth/permissions.ts";
import { getVersionView } from "@/lib/models/versions.ts";
import { requestRevalidation } from "@/lib/validation/job.ts";
import { AppError } from "@/lib/errors.ts";
import { getEnv } from "@/lib/env.ts";

export const dynamic = "force-dynamic";

type Params = { path: string[] };

// GET /api/v1/models/{handle}/versions/{n}: the version with its validation (level, runtime,
// findings, isolation) and benchmark scores. Unapproved versions are visible to admins only.
export const GET = apiRoute<Params>(async (ctx) => {
  const p = parseModelPath(ctx.params.path);
  if (p.version === undefined || p.action !== undefined) throw new AppError("not_found", `no such resource: /api/v1/models/${ctx.params.path.join("/")}`);
  await requirePermission(ctx, canReadApproved(ctx.principal, { anonymousRead: getEnv().anonymousRead }), "read", `${p.handle}/${p.version}`);
  const view = await getVersionView(p.handle, p.version);
  if (!view || (view.status !== "approved" && !canReadUnapproved(ctx.principal))) throw new AppError("not_found", `no version ${p.version} of ${p.handle}`);
  return json(view);
});

// POST /api/v1/models/{handle}/versions/{n}/validate: re-validate (admin); a new run, history kept.
export const POST = apiRoute<Params>(async (ctx) => {
  const p = parseModelPath(ctx.params.path);
  if (p.version === undefined || p.action !== "validate") throw new AppError("not_found", `no such action: POST /api/v1/models/${ctx.params.path.join("/")}`);
  await requirePermission(ctx, canAdminister(ctx.principal), "admin", `${p.handle}/${p.version}`);
  return json(await requestRevalidation({ handle: p.handle, version: p.version, actor: ctx.principal, ip: ctx.ip }), { status: 202 });
});
