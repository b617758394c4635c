import { z } from "zod";
import { apiRoute, json, parseBody, requirePermission } from "@/lib/http/api.ts";
import { approveVersion, rejectVersion } from "@/lib/models/approval.ts";
import { parseModelPath } from "@/lib/http/model-path.ts";
import { canAdminister, canApprove, canReadApproved, canReadUnapproved } from "@/lib/auth/permissions.ts";
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

const approveBody = z.object({ note: z.string().max(2000).optional(), overrideReason: z.string().max(2000).optional() }).strict();
const rejectBody = z.object({ reason: z.string().trim().min(1, "a rejection needs a reason").max(2000) }).strict();

// POST /api/v1/models/{handle}/versions/{n}/{validate|approve|reject} (admin).
//   validate: re-validate; a new run, the history kept (202).
//   approve {"note"?, "overrideReason"?}: only from validated (quarantined needs overrideReason).
//   reject {"reason"}: -> rejected.
export const POST = apiRoute<Params>(async (ctx) => {
  const p = parseModelPath(ctx.params.path);
  if (p.version === undefined || !["validate", "approve", "reject"].includes(p.action ?? "")) throw new AppError("not_found", `no such action: POST /api/v1/models/${ctx.params.path.join("/")}`);
  const target = { handle: p.handle, version: p.version, actor: ctx.principal, ip: ctx.ip };
  if (p.action === "validate") {
    await requirePermission(ctx, canAdminister(ctx.principal), "admin", `${p.handle}/${p.version}`);
    return json(await requestRevalidation(target), { status: 202 });
  }
  await requirePermission(ctx, canApprove(ctx.principal), "approve", `${p.handle}/${p.version}`);
  if (p.action === "approve") return json(await approveVersion({ ...target, ...(await parseBody(ctx.req, approveBody)) }));
  return json(await rejectVersion({ ...target, ...(await parseBody(ctx.req, rejectBody)) }));
});
