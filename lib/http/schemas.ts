// The request schemas of the JSON API, in one place: route handlers parse with them and the OpenAPI
// document (lib/http/openapi.ts) is generated from them, so the two cannot drift apart.
import { z } from "zod";
import { SORTS } from "../models/catalogue.ts";
import { AWAITING, VERSION_STATUSES } from "../models/version-status.ts";
import { MODEL_FORMATS } from "../formats/format.ts";
import { ROLES, SCOPES } from "../auth/principal.ts";

const list = z
  .array(z.string().trim().min(1).max(200))
  .max(20)
  .optional()
  .transform((v) => (v && v.length ? v : undefined));

export const roleSchema = z.enum(ROLES);

export const userCreateSchema = z
  .object({ email: z.email(), role: roleSchema, password: z.string().min(8).max(1024).optional() })
  .strict();

export const userUpdateSchema = z
  .object({
    role: roleSchema.optional(),
    namespaces: z.array(z.string().max(200)).max(100).optional(),
    disabled: z.boolean().optional(),
    password: z.string().min(8).max(1024).optional(),
  })
  .strict();

export const allowRuleSchema = z.object({ rule: z.string().min(1).max(300), note: z.string().max(500).optional() });

export const rulePreviewQuerySchema = z.object({ rule: z.string().min(1).max(300) });

export const reviewQuerySchema = z.object({
  status: z.enum(AWAITING).optional(),
  handle: z.string().min(1).max(300).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

export const decisionSchema = z
  .object({
    decision: z.enum(["approve", "reject"]),
    versions: z
      .array(z.object({ handle: z.string().min(1).max(300), version: z.number().int().positive() }).strict())
      .min(1)
      .max(200),
    note: z.string().max(2000).optional(),
    reason: z.string().max(2000).optional(),
    overrideReason: z.string().max(2000).optional(),
  })
  .strict()
  .refine((b) => b.decision !== "reject" || (b.reason ?? "").trim().length > 0, {
    message: "a rejection needs a reason",
    path: ["reason"],
  });

export const auditQuerySchema = z.object({
  actor: z.string().min(1).optional(),
  action: z.string().min(1).optional(),
  outcome: z.enum(["ok", "denied", "error"]).optional(),
  target: z.string().min(1).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  before: z.string().regex(/^\d+$/, "expected an event id").optional(),
});

export const metadataSchema = z
  .object({
    title: z.string().trim().min(1).max(200).nullable().optional(),
    description: z.string().max(20_000).nullable().optional(),
    task: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .regex(/^[a-z0-9][a-z0-9 _-]*$/i, "letters, digits, spaces, '-' and '_'")
      .nullable()
      .optional(),
    tags: z
      .array(
        z
          .string()
          .trim()
          .min(1)
          .max(40)
          .regex(/^[a-z0-9][a-z0-9._-]*$/i, "letters, digits, '.', '-' and '_'"),
      )
      .max(30)
      .optional(),
    license: z.string().trim().min(1).max(100).nullable().optional(),
  })
  .strict();

export const catalogueQuerySchema = z
  .object({
    q: z.string().max(200).optional(),
    publisher: list,
    task: list,
    format: z.array(z.enum(MODEL_FORMATS)).max(MODEL_FORMATS.length).optional(),
    license: list,
    status: z.array(z.enum(VERSION_STATUSES)).max(VERSION_STATUSES.length).optional(),
    sort: z.enum(SORTS).optional(),
    page: z.coerce.number().int().min(1).max(10_000).optional(),
    pageSize: z.coerce.number().int().min(1).max(100).optional(),
  })
  .strict();

/** PUT /api/v1/quotas: the shape here; that the namespace is a handle glob is lib/models/quotas.ts's rule. */
export const quotaSchema = z.object({
  namespace: z.string().min(1, "namespace is required").max(300),
  maxBytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

export const aliasSchema = z.object({
  version: z.number({ error: "version: the version number the alias points to" }).int().positive(),
});

export const deleteVersionSchema = z.object({
  reason: z.string().trim().min(1, "a deletion needs a reason").max(2000),
});

/** PUT /api/v1/retention: the shape here; what each rule means is lib/models/retention.ts's. */
export const retentionRulesSchema = z.object({
  rules: z
    .array(
      z
        .object({
          match: z.string().min(1, "match is required").max(300),
          keepLastApproved: z.number().int().min(1).max(10_000).optional(),
          deleteRejectedAfterDays: z.number().int().min(0).max(36_500).optional(),
          deleteUnapprovedAfterDays: z.number().int().min(0).max(36_500).optional(),
        })
        .strict(),
    )
    .max(200),
});

export const retentionRunSchema = z.object({ dryRun: z.boolean() }).strict();

export const mirrorRequestSchema = z.object({ url: z.string().min(1, "url is required").max(2000) });

export const tokenListQuerySchema = z.object({ all: z.enum(["true", "false"]).optional() });

export const tokenCreateSchema = z
  .object({
    scope: z.enum(SCOPES),
    name: z.string().trim().min(1).max(100).optional(),
    expiresInDays: z.number().int().min(1).max(3650).optional(),
    /** Admins only: create the token for another user (the token is still shown once, to the caller). */
    email: z.email().optional(),
  })
  .strict();

export const approveSchema = z
  .object({ note: z.string().max(2000).optional(), overrideReason: z.string().max(2000).optional() })
  .strict();

export const rejectSchema = z
  .object({ reason: z.string().trim().min(1, "a rejection needs a reason").max(2000) })
  .strict();
