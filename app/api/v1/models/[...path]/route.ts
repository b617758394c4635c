import { apiRoute, json, parseBody, requirePermission } from "@/lib/http/api.ts";
import { approveVersion, rejectVersion } from "@/lib/models/approval.ts";
import { parseModelPath } from "@/lib/http/model-path.ts";
import { canAdminister, canApprove, canPublishTo, canReadApproved, canReadUnapprovedIn, effectiveLevel } from "@/lib/auth/permissions.ts";
import { discardBody, uploadVersion } from "@/lib/models/upload.ts";
import { modelSource, updateModelMetadata } from "@/lib/models/catalogue.ts";
import { getVersionView } from "@/lib/models/versions.ts";
import { requestRevalidation } from "@/lib/validation/job.ts";
import { AppError } from "@/lib/errors.ts";
import { getEnv } from "@/lib/env.ts";
import { approveSchema, metadataSchema, rejectSchema } from "@/lib/http/schemas.ts";

export const dynamic = "force-dynamic";

type Params = { path: string[] };

// GET /api/v1/models/{handle}/versions/{n}: the version with its validation (level, runtime,
// findings, isolation) and benchmark scores. Unapproved versions are visible to admins only.
export const GET = apiRoute<Params>(async (ctx) => {
  const p = parseModelPath(ctx.params.path);
  if (p.version === undefined || p.action !== undefined) throw new AppError("not_found", `no such resource: /api/v1/models/${ctx.params.path.join("/")}`);
  await requirePermission(ctx, canReadApproved(ctx.principal, { anonymousRead: getEnv().anonymousRead }), "read", `${p.handle}/${p.version}`);
  const view = await getVersionView(p.handle, p.version);
  if (!view || (view.status !== "approved" && !canReadUnapprovedIn(ctx.principal, p.handle))) throw new AppError("not_found", `no version ${p.version} of ${p.handle}`);
  return json(view);
});


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
  if (p.action === "approve") return json(await approveVersion({ ...target, ...(await parseBody(ctx.req, approveSchema)) }));
  return json(await rejectVersion({ ...target, ...(await parseBody(ctx.req, rejectSchema)) }));
});

// PUT /api/v1/models/{handle}/versions/{n}: upload a version (publisher in their namespace, admin).
// The body (a .tar.gz of a SavedModel / TF1 Hub / TF.js model, or a .tflite) streams straight into
// the blob store. 201 with the version (pending); the same bytes again 200; other bytes 409; over
// HUBKEEP_MAX_UPLOAD_BYTES 413; not a model 422 naming what was found.
export const PUT = apiRoute<Params>(async (ctx) => {
  const p = parseModelPath(ctx.params.path);
  if (p.version === undefined || p.action !== undefined) throw new AppError("not_found", `PUT goes to /api/v1/models/{handle}/versions/{n}`);
  const p2 = ctx.principal;
  const why =
    p2.kind === "user" && effectiveLevel(p2) >= 2 && !canPublishTo(p2, p.handle)
      ? `${p.handle} is outside your namespaces (${p2.namespaces.join(", ") || "none assigned: ask an admin"})`
      : undefined;
  await requirePermission(ctx, canPublishTo(p2, p.handle), "publish", `${p.handle}/${p.version}`, why).catch(async (err) => {
    // Read what the client is still sending, so it sees the 401/403 rather than a reset.
    await discardBody(ctx.req.body as AsyncIterable<Uint8Array> | null);
    throw err;
  });
  const length = ctx.req.headers.get("content-length");
  const published = await uploadVersion({
    handle: p.handle,
    version: p.version,
    body: ctx.req.body as AsyncIterable<Uint8Array> | null,
    contentLength: length !== null && /^\d+$/.test(length) ? Number(length) : null,
    maxBytes: getEnv().maxUploadBytes,
    actor: p2,
    ip: ctx.ip,
  });
  return json(await getVersionView(published.handle, published.version), { status: published.created ? 201 : 200 });
});

// PATCH /api/v1/models/{handle} {"title"?,"description"?,"task"?,"tags"?,"license"?}: catalogue
// metadata (descriptions are markdown). Uploaded models: their publisher (namespace) or an admin;
// mirrored models: admins.
export const PATCH = apiRoute<Params>(async (ctx) => {
  const p = parseModelPath(ctx.params.path);
  if (p.version !== undefined || p.action !== undefined) throw new AppError("not_found", `PATCH goes to /api/v1/models/{handle}`);
  const source = await modelSource(p.handle);
  const allowed = source === "upstream" ? canAdminister(ctx.principal) : canPublishTo(ctx.principal, p.handle);
  await requirePermission(ctx, allowed, source === "upstream" ? "admin" : "publish", p.handle);
  const patch = await parseBody(ctx.req, metadataSchema);
  return json(await updateModelMetadata({ handle: p.handle, patch, actor: ctx.principal, ip: ctx.ip }));
});
