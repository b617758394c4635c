// The OpenAPI 3.1 document of the JSON API (GET /api/v1/openapi.json), generated from the same zod
// schemas the route handlers parse with (lib/http/schemas.ts). A test checks every route file's
// methods appear here.
import { z } from "zod";
import * as S from "./schemas.ts";
import { createWebhookSchema, deliveriesQuerySchema } from "../webhooks/schemas.ts";

type Access = "anyone" | "anonymous-read" | "signed-in" | "publisher" | "admin";

export type Operation = {
  method: "get" | "post" | "put" | "patch" | "delete";
  path: string;
  summary: string;
  access: Access;
  query?: z.ZodType;
  body?: z.ZodType;
  /** A raw (non-JSON) request body, e.g. an upload. */
  rawBody?: { contentType: string; description: string };
  responses: Record<number, string>;
  /**
   * Served by the Node server's download handler (lib/hub), not by a Next.js route file; the
   * OpenAPI test checks that handler recognises the path instead.
   */
  servedBy?: "download-handler";
};

const versionPath = "/api/v1/models/{handle}/versions/{n}";

export const OPERATIONS: Operation[] = [
  {
    method: "get",
    path: "/healthz",
    summary: "Health of the server, its database and blob store",
    access: "anyone",
    responses: { 200: "all ok", 503: "names what is down" },
  },
  {
    method: "get",
    path: "/api/v1/openapi.json",
    summary: "This document",
    access: "anyone",
    responses: { 200: "OpenAPI 3.1" },
  },
  {
    method: "get",
    path: "/api/v1/me",
    summary: "Who the credentials belong to",
    access: "signed-in",
    responses: { 200: "id, email, role, scope, via, namespaces" },
  },
  {
    method: "get",
    path: "/api/v1/models",
    summary: "Catalogue search with facets, sort and pages",
    access: "anonymous-read",
    query: S.catalogueQuerySchema,
    responses: { 200: "{items,total,page,pageSize,facets}" },
  },
  {
    method: "get",
    path: "/api/v1/models/{handle}",
    summary: "A model: handle, format, metadata, source, aliases and the versions the caller may see",
    access: "anonymous-read",
    responses: {
      200: '{"handle","format","title","description","task","tags","license","source"?,"aliases":{},"versions":[{"version","status","digest","size","createdAt"}]} (approved versions; publishers also see their namespace\'s others, admins all)',
      404: "no such model, or none of its versions is visible to the caller",
    },
  },
  {
    method: "patch",
    path: "/api/v1/models/{handle}",
    summary: "Set a model's catalogue metadata (markdown description)",
    access: "publisher",
    body: S.metadataSchema,
    responses: { 200: "the model's metadata", 404: "no such model", 422: "invalid metadata" },
  },
  {
    method: "get",
    path: versionPath,
    summary: "A version: files, validation, benchmarks, provenance",
    access: "anonymous-read",
    responses: { 200: "the version document", 404: "unknown or not visible" },
  },
  {
    method: "put",
    path: versionPath,
    summary: "Upload a version (streamed into the blob store)",
    access: "publisher",
    rawBody: {
      contentType: "application/octet-stream",
      description: "a .tar.gz of a SavedModel, TF1 Hub module or TF.js model, or a .tflite file",
    },
    responses: {
      200: "the same bytes were already there",
      201: "created, status pending",
      403: "outside the caller's namespaces",
      409: "the version exists with other bytes, or was deleted (numbers are never reused)",
      413: "over HUBKEEP_MAX_UPLOAD_BYTES, or over the namespace's quota (code quota_exceeded)",
      422: "not a model (names what was found)",
    },
  },
  {
    method: "delete",
    path: versionPath,
    summary: "Delete a version: never served again (410 Gone), its document and number kept, its blobs left to gc",
    access: "admin",
    body: S.deleteVersionSchema,
    responses: { 200: "deleted", 404: "unknown", 409: "already deleted", 422: "no reason" },
  },
  {
    method: "post",
    path: `${versionPath}/approve`,
    summary: "Approve a validated version (quarantined: overrideReason)",
    access: "admin",
    body: S.approveSchema,
    responses: { 200: "approved", 409: "not validated (details.status)" },
  },
  {
    method: "post",
    path: `${versionPath}/reject`,
    summary: "Reject a version",
    access: "admin",
    body: S.rejectSchema,
    responses: { 200: "rejected", 422: "no reason" },
  },
  {
    method: "put",
    path: "/api/v1/models/{handle}/aliases/{name}",
    summary:
      "Point an alias ([a-z][a-z0-9-]{0,31}) at an approved version: /{handle}/@{name} then redirects there; audited, sends alias.moved",
    access: "admin",
    body: S.aliasSchema,
    responses: {
      200: '{"handle","alias","version","previousVersion","changed"}',
      404: "unknown model or version",
      409: "the version is not approved (names its status)",
      422: "bad alias name or version",
    },
  },
  {
    method: "delete",
    path: "/api/v1/models/{handle}/aliases/{name}",
    summary: "Remove an alias; sends alias.moved with version null",
    access: "admin",
    responses: { 200: '{"handle","alias","previousVersion"}', 404: "no such alias" },
  },
  {
    method: "post",
    path: `${versionPath}/validate`,
    summary: "Re-validate a version",
    access: "admin",
    responses: { 202: "queued", 409: "decided or running" },
  },
  {
    method: "get",
    path: "/api/v1/blobs/sha256:{hex}",
    summary: "Any blob of an approved version, by digest (as downloads: Range, If-None-Match, HEAD)",
    access: "anonymous-read",
    servedBy: "download-handler",
    responses: {
      200: "the bytes, with ETag and Content-Digest",
      206: "a range",
      304: "not modified",
      400: "not a sha256 digest",
      404: "no approved version holds this blob",
    },
  },
  {
    method: "get",
    path: "/api/v1/review",
    summary: "The review queue with evidence and the diff against the previous approved version",
    access: "admin",
    query: S.reviewQuerySchema,
    responses: { 200: "{items}" },
  },
  {
    method: "post",
    path: "/api/v1/review/decisions",
    summary: "Approve or reject several versions",
    access: "admin",
    body: S.decisionSchema,
    responses: { 200: "{results,decided,refused}", 422: "a rejection without a reason" },
  },
  {
    method: "get",
    path: "/api/v1/mirrors",
    summary: "Recent mirror requests",
    access: "signed-in",
    responses: { 200: "{items}" },
  },
  {
    method: "post",
    path: "/api/v1/mirrors",
    summary:
      "Mirror an allowlisted upstream version (a URL without a version: the upstream's latest, pinned and named in `version`)",
    access: "publisher",
    body: S.mirrorRequestSchema,
    responses: {
      200: "already mirrored",
      202: "queued",
      403: "not allowlisted (names the rule); checked before any upstream contact",
      422: "not a model URL",
      502: "unversioned URL: the upstream named no version (names what it answered)",
      503: "unversioned URL: the upstream did not answer",
    },
  },
  {
    method: "get",
    path: "/api/v1/mirrors/{id}",
    summary: "A mirror request's progress",
    access: "signed-in",
    responses: { 200: "status, bytesDone, bytesTotal", 404: "unknown or not yours" },
  },
  {
    method: "post",
    path: "/api/v1/mirrors/{id}/resync",
    summary: "Check a mirrored version against upstream",
    access: "admin",
    responses: { 200: "the comparison" },
  },
  {
    method: "get",
    path: "/api/v1/allowlist",
    summary: "Allow and deny rules",
    access: "admin",
    responses: { 200: "{items}" },
  },
  {
    method: "post",
    path: "/api/v1/allowlist",
    summary: "Add a rule (`!pattern` denies)",
    access: "admin",
    body: S.allowRuleSchema,
    responses: { 201: "the rule", 409: "exists" },
  },
  {
    method: "get",
    path: "/api/v1/allowlist/preview",
    summary: "The existing models a rule would match",
    access: "admin",
    query: S.rulePreviewQuerySchema,
    responses: { 200: "{rule,matches,total,changed}" },
  },
  {
    method: "delete",
    path: "/api/v1/allowlist/{id}",
    summary: "Remove a rule",
    access: "admin",
    responses: { 204: "removed", 404: "unknown" },
  },
  {
    method: "get",
    path: "/api/v1/webhooks",
    summary: "Webhooks (never their secrets), with their state and pending deliveries",
    access: "admin",
    responses: { 200: "{items: [{id,url,events,description,enabled,disabledReason,createdAt,pendingDeliveries}]}" },
  },
  {
    method: "post",
    path: "/api/v1/webhooks",
    summary:
      'Register a receiver for event types ("*" for all); deliveries are signed per Standard Webhooks with the secret answered here, once',
    access: "admin",
    body: createWebhookSchema,
    responses: {
      201: "{id,url,events,description,enabled,secret}",
      422: "names the field: a bad URL, an unknown or missing event type, the cloud metadata address",
    },
  },
  {
    method: "delete",
    path: "/api/v1/webhooks/{id}",
    summary: "Remove a webhook and its deliveries",
    access: "admin",
    responses: { 204: "removed", 404: "unknown" },
  },
  {
    method: "get",
    path: "/api/v1/webhooks/{id}/deliveries",
    summary: "A webhook's deliveries, newest first: event id, type, attempt, status code or error, time",
    access: "admin",
    query: deliveriesQuerySchema,
    responses: {
      200: "{items: [{id,eventId,type,status,attempt,statusCode,error,time,nextAttemptAt,attempts}]}",
      404: "unknown",
    },
  },
  {
    method: "post",
    path: "/api/v1/webhooks/{id}/test",
    summary: "Send a signed `webhook.test` event to this webhook (delivered and retried like any event)",
    access: "admin",
    responses: { 202: "{eventId,deliveryId,type}", 404: "unknown", 409: "the webhook is disabled" },
  },
  {
    method: "get",
    path: "/api/v1/retention",
    summary: "The retention rules",
    access: "admin",
    responses: { 200: "{rules}" },
  },
  {
    method: "put",
    path: "/api/v1/retention",
    summary: "Replace the retention rules (applied in order; the first whose match covers a model decides)",
    access: "admin",
    body: S.retentionRulesSchema,
    responses: { 200: "{rules}", 422: "names the field" },
  },
  {
    method: "post",
    path: "/api/v1/retention/run",
    summary: "Apply the rules now, or list what they would delete (dryRun)",
    access: "admin",
    body: S.retentionRunSchema,
    responses: { 200: "{versions: [{handle, version, reason}], dryRun}" },
  },
  {
    method: "get",
    path: "/api/v1/quotas",
    summary: "Quotas with their usage (bytes of the distinct blobs of versions not deleted)",
    access: "admin",
    responses: { 200: "{items: [{id,namespace,maxBytes,usedBytes,ratio}]}" },
  },
  {
    method: "put",
    path: "/api/v1/quotas",
    summary: "Set a namespace's quota (a handle glob); a limit below current usage is allowed and warns",
    access: "admin",
    body: S.quotaSchema,
    responses: { 200: "replaced", 201: "created", 422: "names the field" },
  },
  {
    method: "delete",
    path: "/api/v1/quotas/{id}",
    summary: "Remove a quota",
    access: "admin",
    responses: { 204: "removed", 404: "unknown" },
  },
  {
    method: "get",
    path: "/api/v1/tokens",
    summary: "The caller's API tokens (all with ?all=true, admin)",
    access: "signed-in",
    query: S.tokenListQuerySchema,
    responses: { 200: "{items}, never secrets" },
  },
  {
    method: "post",
    path: "/api/v1/tokens",
    summary: "Create an API token (shown once)",
    access: "signed-in",
    body: S.tokenCreateSchema,
    responses: { 201: "{id,token,scope,expiresAt}", 403: "scope above the caller" },
  },
  {
    method: "delete",
    path: "/api/v1/tokens/{id}",
    summary: "Revoke a token",
    access: "signed-in",
    responses: { 204: "revoked", 404: "unknown" },
  },
  {
    method: "get",
    path: "/api/v1/users",
    summary: "Users, roles and namespaces",
    access: "admin",
    responses: { 200: "{items}" },
  },
  {
    method: "post",
    path: "/api/v1/users",
    summary: "Create a local user",
    access: "admin",
    body: S.userCreateSchema,
    responses: { 201: "the user", 409: "exists" },
  },
  {
    method: "patch",
    path: "/api/v1/users/{id}",
    summary: "Change a user's role, namespaces, password or disable them",
    access: "admin",
    body: S.userUpdateSchema,
    responses: { 200: "the user", 409: "the last admin" },
  },
  {
    method: "get",
    path: "/api/v1/audit",
    summary: "Audit events, newest first",
    access: "admin",
    query: S.auditQuerySchema,
    responses: { 200: "{items}" },
  },
];

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
}

function parameters(op: Operation) {
  const out: Array<Record<string, unknown>> = [];
  for (const name of op.path.match(/\{(\w+)\}/g) ?? []) {
    const n = name.slice(1, -1);
    out.push({
      name: n,
      in: "path",
      required: true,
      schema:
        n === "n"
          ? { type: "integer", minimum: 1 }
          : n === "hex"
            ? { type: "string", pattern: "^[0-9a-f]{64}$" }
            : { type: "string" },
      ...(n === "handle"
        ? { description: "a model handle; it holds slashes, e.g. google/imagenet/mobilenet_v2_100_224/feature_vector" }
        : {}),
    });
  }
  if (op.query) {
    const js = jsonSchema(op.query) as { properties?: Record<string, unknown>; required?: string[] };
    for (const [n, s] of Object.entries(js.properties ?? {}))
      out.push({ name: n, in: "query", required: js.required?.includes(n) ?? false, schema: s });
  }
  return out;
}

const ERROR = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        details: { type: "object" },
        requestId: { type: "string", description: "the response's X-Request-Id" },
      },
      required: ["code", "message"],
    },
  },
  required: ["error"],
};

export function openApiDocument(serverUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const responses: Record<string, unknown> = {};
    for (const [code, description] of Object.entries(op.responses)) {
      // The download handler answers errors as plain text (hub clients read them), the API as JSON.
      const errorBody =
        op.servedBy === "download-handler"
          ? { "text/plain": { schema: { type: "string" } } }
          : { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };
      responses[code] = Number(code) >= 400 ? { description, content: errorBody } : { description };
    }
    if (op.access !== "anyone") {
      responses["401"] ??= {
        description: "no or bad credentials",
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      };
      if (op.access !== "anonymous-read")
        responses["403"] ??= {
          description: "the caller lacks the permission (named in the message)",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        };
    }
    if (op.body || op.query)
      responses["422"] ??= {
        description: "invalid input (names the field)",
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      };
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      "x-hubkeep-access": op.access,
      ...(op.access === "anyone" ? { security: [] } : {}),
      parameters: parameters(op),
      ...(op.body
        ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(op.body) } } } }
        : {}),
      ...(op.rawBody
        ? {
            requestBody: {
              required: true,
              description: op.rawBody.description,
              content: { [op.rawBody.contentType]: { schema: { type: "string", format: "binary" } } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Hubkeep API",
      version: "1",
      description:
        "Model registry and TensorFlow Hub mirror. Hub-protocol downloads (/{handle}/{n}?tf-hub-format=compressed, model.json, lite-format=tflite) are described in the README, not here.",
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }, { session: [] }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "an API token, hk_…" },
        session: {
          type: "apiKey",
          in: "cookie",
          name: "next-auth.session-token",
          description: "the web UI's session (mutations must be same-origin)",
        },
      },
      schemas: { Error: ERROR },
    },
    paths,
  };
}
