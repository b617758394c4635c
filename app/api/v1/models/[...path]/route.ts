import { apiRoute, json, parseBody } from "@/lib/http/api.ts";
import { approveVersion, deleteVersion, rejectVersion } from "@/lib/models/approval.ts";
import { dispatchModelRoute, type ModelPath } from "@/lib/http/model-path.ts";
import type { ApiContext } from "@/lib/http/api.ts";
import { canReadUnapprovedIn, RULES } from "@/lib/auth/permissions.ts";
import { discardBody, uploadVersion } from "@/lib/models/upload.ts";
import { getModelDocument, modelSource, updateModelMetadata } from "@/lib/models/models.ts";
import { getVersionView } from "@/lib/models/versions.ts";
import { requestRevalidation } from "@/lib/models/validation-job.ts";
import { AppError } from "@/lib/errors.ts";
import { getEnv } from "@/lib/env.ts";
import { aliasSchema, approveSchema, deleteVersionSchema, metadataSchema, rejectSchema } from "@/lib/http/schemas.ts";
import { removeAlias, setAlias } from "@/lib/models/aliases.ts";

export const dynamic = "force-dynamic";

type Params = { path: string[] };

// Every sub-route is an entry of MODEL_ROUTES (lib/http/model-path.ts); each method dispatches
// through that table, so the OpenAPI test sees exactly what is served.
const readApproved = () => RULES.readApproved({ anonymousRead: getEnv().anonymousRead });

export const GET = apiRoute<Params>(null, (ctx) =>
  dispatchModelRoute("GET", ctx.params.path, {
    "GET /api/v1/models/{handle}": (p) => getModel(ctx, p),
    "GET /api/v1/models/{handle}/versions/{n}": (p) => getModelVersion(ctx, p),
  }),
);

// GET /api/v1/models/{handle}: the model with the versions the caller may see (approved ones;
// publishers also their namespace's others, admins all); 404 when none is visible.
async function getModel(ctx: ApiContext<Params>, p: ModelPath): Promise<Response> {
  await ctx.authorize(readApproved(), p.handle);
  const doc = await getModelDocument({ handle: p.handle, principal: ctx.principal });
  if (!doc) throw new AppError("not_found", `no model ${p.handle}`);
  return json(doc);
}

// GET /api/v1/models/{handle}/versions/{n}: the version with its validation (level, runtime,
// findings, isolation) and benchmark scores. Unapproved versions: admins, and publishers in their namespace.
async function getModelVersion(ctx: ApiContext<Params>, p: ModelPath): Promise<Response> {
  const n = p.version!;
  await ctx.authorize(readApproved(), `${p.handle}/${n}`);
  const view = await getVersionView(p.handle, n);
  if (!view || (view.status !== "approved" && !canReadUnapprovedIn(ctx.principal, p.handle)))
    throw new AppError("not_found", `no version ${n} of ${p.handle}`);
  return json(view);
}

// POST /api/v1/models/{handle}/versions/{n}/{validate|approve|reject} (admin).
//   validate: re-validate; a new run, the history kept (202).
//   approve {"note"?, "overrideReason"?}: only from validated (quarantined needs overrideReason).
//   reject {"reason"}: -> rejected.
export const POST = apiRoute<Params>(null, (ctx) =>
  dispatchModelRoute("POST", ctx.params.path, {
    "POST /api/v1/models/{handle}/versions/{n}/validate": (p) => actOnVersion(ctx, p),
    "POST /api/v1/models/{handle}/versions/{n}/approve": (p) => actOnVersion(ctx, p),
    "POST /api/v1/models/{handle}/versions/{n}/reject": (p) => actOnVersion(ctx, p),
  }),
);

async function actOnVersion(ctx: ApiContext<Params>, p: ModelPath): Promise<Response> {
  if (p.version === undefined) throw new AppError("not_found", "no version in the path");
  const target = { handle: p.handle, version: p.version, actor: ctx.principal, ip: ctx.ip };
  if (p.action === "validate") {
    await ctx.authorize(RULES.admin, `${p.handle}/${p.version}`);
    return json(await requestRevalidation(target), { status: 202 });
  }
  await ctx.authorize(RULES.approve, `${p.handle}/${p.version}`);
  if (p.action === "approve")
    return json(await approveVersion({ ...target, ...(await parseBody(ctx.req, approveSchema)) }));
  return json(await rejectVersion({ ...target, ...(await parseBody(ctx.req, rejectSchema)) }));
}

// PUT /api/v1/models/{handle}/versions/{n}: upload a version (publisher in their namespace, admin).
// The body (a .tar.gz of a SavedModel / TF1 Hub / TF.js model, or a .tflite) streams straight into
// the blob store. 201 with the version (pending); the same bytes again 200; other bytes 409; over
// HUBKEEP_MAX_UPLOAD_BYTES 413; not a model 422 naming what was found.
export const PUT = apiRoute<Params>(null, (ctx) =>
  dispatchModelRoute("PUT", ctx.params.path, {
    "PUT /api/v1/models/{handle}/versions/{n}": (p) => uploadModelVersion(ctx, p),
    "PUT /api/v1/models/{handle}/aliases/{name}": async (p) => {
      await ctx.authorize(RULES.admin, `${p.handle}@${p.alias}`);
      const body = await parseBody(ctx.req, aliasSchema);
      const r = await setAlias({
        handle: p.handle,
        name: p.alias!,
        version: body.version,
        actor: ctx.principal,
        ip: ctx.ip,
      });
      return json(r);
    },
  }),
);

async function uploadModelVersion(ctx: ApiContext<Params>, p: ModelPath): Promise<Response> {
  if (p.version === undefined) throw new AppError("not_found", "no version in the path");
  const publisher = await ctx
    .authorize(RULES.publishTo(p.handle), `${p.handle}/${p.version}`)
    .catch(async (err: unknown) => {
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
    actor: publisher,
    ip: ctx.ip,
  });
  return json(await getVersionView(published.handle, published.version), { status: published.created ? 201 : 200 });
}

// PATCH /api/v1/models/{handle} {"title"?,"description"?,"task"?,"tags"?,"license"?}: catalogue
// metadata (descriptions are markdown). Uploaded models: their publisher (namespace) or an admin;
// mirrored models: admins.
export const PATCH = apiRoute<Params>(null, (ctx) =>
  dispatchModelRoute("PATCH", ctx.params.path, {
    "PATCH /api/v1/models/{handle}": (p) => patchModel(ctx, p),
  }),
);

async function patchModel(ctx: ApiContext<Params>, p: ModelPath): Promise<Response> {
  const source = await modelSource(p.handle);
  await ctx.authorize(RULES.editModel(p.handle, source), p.handle);
  const patch = await parseBody(ctx.req, metadataSchema);
  return json(await updateModelMetadata({ handle: p.handle, patch, actor: ctx.principal, ip: ctx.ip }));
}

// DELETE /api/v1/models/{handle}/versions/{n} {"reason"} (admin): the version becomes `deleted`,
// never served again (410), its document and number kept.
export const DELETE = apiRoute<Params>(null, (ctx) =>
  dispatchModelRoute("DELETE", ctx.params.path, {
    "DELETE /api/v1/models/{handle}/versions/{n}": async (p) => {
      await ctx.authorize(RULES.admin, `${p.handle}/${p.version}`);
      const body = await parseBody(ctx.req, deleteVersionSchema);
      return json(
        await deleteVersion({
          handle: p.handle,
          version: p.version!,
          reason: body.reason,
          actor: ctx.principal,
          ip: ctx.ip,
        }),
      );
    },
    // DELETE /api/v1/models/{handle}/aliases/{name} (admin): the alias is gone; 404 when it was not there.
    "DELETE /api/v1/models/{handle}/aliases/{name}": async (p) => {
      await ctx.authorize(RULES.admin, `${p.handle}@${p.alias}`);
      return json(await removeAlias({ handle: p.handle, name: p.alias!, actor: ctx.principal, ip: ctx.ip }));
    },
  }),
);
