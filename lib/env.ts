// The one configuration schema. Every variable in ../shared/CONTRACT.md is parsed here, once; a bad
// value stops start-up with a message naming the variable and what is wrong with it.
import path from "node:path";
import { z } from "zod";

const bool = (fallback: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      if (["true", "1", "yes", "on"].includes(v)) return true;
      if (["false", "0", "no", "off"].includes(v)) return false;
      ctx.addIssue({ code: "custom", message: `expected true or false, got "${v}"` });
      return z.NEVER;
    });

const positiveInt = (fallback: number, unit: string, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n <= 0 || n > max) {
        ctx.addIssue({ code: "custom", message: `expected a whole number of ${unit} from 1 to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

/** Hours, fractions allowed, from 0 (off) to `max`. */
const hours = (fallback: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0 || n > max) {
        ctx.addIssue({ code: "custom", message: `expected hours from 0 (off) to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const httpUrl = (what: string) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === "http:" || u.protocol === "https:";
      } catch {
        return false;
      }
    }, `expected an http(s) URL for ${what}`)
    .transform((v) => v.replace(/\/+$/, ""));

/** HUBKEEP_LOG_FORMAT's values; unset means json unless stdout is a terminal (lib/log.ts). */
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
/** HUBKEEP_LOG_LEVEL's values, pino's levels (default info). */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const lowerCase = optionalString.transform((v) => v?.toLowerCase());

const rawSchema = z.object({
  HUBKEEP_DATA_DIR: optionalString,
  PORT: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return 3000;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 65535) {
        ctx.addIssue({ code: "custom", message: `expected a port number 1-65535, got "${v}"` });
        return z.NEVER;
      }
      return n;
    }),
  HUBKEEP_HOST: optionalString,
  HUBKEEP_PUBLIC_URL: optionalString.pipe(httpUrl("the public base URL").optional()),
  DATABASE_URL: optionalString.refine(
    (v) => v === undefined || /^postgres(ql)?:\/\//.test(v),
    "expected a postgresql:// URL (leave unset for the embedded database)",
  ),
  BLOB_STORE_URL: optionalString.refine(
    (v) => v === undefined || /^file:\/\/\/./.test(v) || /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(v),
    "expected file:///absolute/dir or s3://bucket[/prefix] (bucket names are 3-63 lowercase characters)",
  ),
  S3_ENDPOINT: optionalString.pipe(httpUrl("the S3 endpoint").optional()),
  S3_REGION: optionalString,
  S3_FORCE_PATH_STYLE: bool(false),
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  HUBKEEP_S3_REDIRECT: optionalString,
  HUBKEEP_UPSTREAM_TFHUB: optionalString.pipe(httpUrl("the tfhub upstream").optional()),
  HUBKEEP_UPSTREAM_HOSTS: optionalString,
  HUBKEEP_ALLOW_PRIVATE_UPSTREAM: bool(false),
  HUBKEEP_ALLOWLIST: z.string().optional(),
  HUBKEEP_ADMIN_EMAIL: optionalString.pipe(z.email("expected an email address").optional()),
  HUBKEEP_ADMIN_PASSWORD: optionalString.refine(
    (v) => v === undefined || v.length >= 8,
    "must be at least 8 characters",
  ),
  HUBKEEP_ANONYMOUS_READ: bool(true),
  HUBKEEP_TRUST_PROXY: bool(false),
  AUTH_SECRET: optionalString,
  NEXTAUTH_SECRET: optionalString,
  HUBKEEP_OIDC_ISSUER: optionalString.pipe(httpUrl("the OIDC issuer").optional()),
  HUBKEEP_OIDC_CLIENT_ID: optionalString,
  HUBKEEP_OIDC_CLIENT_SECRET: optionalString,
  HUBKEEP_IN_PROCESS_WORKER: bool(true),
  HUBKEEP_MAX_UPLOAD_BYTES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return 10 * 1024 ** 3;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n <= 0) {
        ctx.addIssue({ code: "custom", message: `expected a positive number of bytes, got "${v}"` });
        return z.NEVER;
      }
      return n;
    }),
  // The validation sandbox (lib/validation/sandbox/).
  HUBKEEP_VALIDATE_TIMEOUT_SECONDS: positiveInt(300, "seconds", 86_400),
  HUBKEEP_VALIDATE_MEMORY_MB: positiveInt(2048, "MiB", 1_048_576),
  HUBKEEP_VALIDATE_BACKEND: z.enum(["wasm", "cpu"], { error: 'expected "wasm" or "cpu"' }).optional(),
  // Archives (lib/archive/read-archive.ts) and job budgets (lib/jobs/worker.ts).
  HUBKEEP_ARCHIVE_MAX_ENTRIES: positiveInt(10_000, "entries", 10_000_000),
  HUBKEEP_ARCHIVE_MAX_RATIO: positiveInt(200, "(ratio to 1)", 100_000),
  HUBKEEP_MIRROR_BUDGET_SECONDS: positiveInt(3600, "seconds", 7 * 86_400),
  HUBKEEP_VALIDATE_BUDGET_SECONDS: positiveInt(900, "seconds", 7 * 86_400),
  HUBKEEP_MIRROR_CONCURRENCY: positiveInt(4, "jobs", 256),
  // Scheduled drift checks (lib/models/drift-checks.ts): each mirrored version once per this many hours; 0 is off.
  HUBKEEP_RESYNC_INTERVAL_HOURS: hours(24, 24 * 365),
  // Start-up and shutdown (lib/server/).
  HUBKEEP_SHUTDOWN_GRACE_SECONDS: positiveInt(30, "seconds", 3600),
  HUBKEEP_MIGRATION_WAIT_SECONDS: positiveInt(120, "seconds", 3600),
  // Operations (lib/metrics.ts): /metrics needs this bearer token when set; npm run worker serves
  // its metrics on this port when set.
  HUBKEEP_METRICS_TOKEN: optionalString,
  HUBKEEP_METRICS_PORT: positiveInt(0, "(a port number)", 65535).optional(),
  // Logs (lib/log.ts): JSON lines or pino-pretty (unset: JSON unless stdout is a terminal), and the level.
  HUBKEEP_LOG_FORMAT: lowerCase.pipe(z.enum(LOG_FORMATS, { error: 'expected "json" or "pretty"' }).optional()),
  HUBKEEP_LOG_LEVEL: lowerCase.pipe(
    z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(", ")}` }).optional(),
  ),
  // CLI client side: talk to a running server.
  HUBKEEP_URL: optionalString.pipe(httpUrl("the server URL").optional()),
  HUBKEEP_TOKEN: optionalString,
});

export type Env = ReturnType<typeof finish>;

function finish(raw: z.infer<typeof rawSchema>, cwd: string) {
  const dataDir = path.resolve(cwd, raw.HUBKEEP_DATA_DIR ?? ".data");
  const blobStoreUrl = raw.BLOB_STORE_URL ?? `file://${path.join(dataDir, "blobs")}`;
  const blobStoreKind = blobStoreUrl.startsWith("s3://") ? ("s3" as const) : ("file" as const);
  let s3Redirect = blobStoreKind === "s3";
  if (raw.HUBKEEP_S3_REDIRECT !== undefined) {
    const parsed = bool(s3Redirect).safeParse(raw.HUBKEEP_S3_REDIRECT);
    if (!parsed.success) throw new EnvError("HUBKEEP_S3_REDIRECT", parsed.error.issues[0]?.message ?? "invalid");
    s3Redirect = parsed.data;
  }
  const upstreamTfhub = raw.HUBKEEP_UPSTREAM_TFHUB ?? "https://tfhub.dev";
  const upstreamHosts = (raw.HUBKEEP_UPSTREAM_HOSTS ?? "tfhub.dev,www.kaggle.com,storage.googleapis.com")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  for (const h of upstreamHosts) {
    if (!/^[a-z0-9.-]+(:\d+)?$|^\[[0-9a-f:.]+\](:\d+)?$/.test(h)) {
      throw new EnvError("HUBKEEP_UPSTREAM_HOSTS", `"${h}" is not a host name`);
    }
  }
  const allowlist = (raw.HUBKEEP_ALLOWLIST ?? "google/*")
    .split(",")
    .map((r) => r.trim())
    .filter(Boolean);
  for (const rule of allowlist) {
    if (!/^!?[a-z0-9*?_.\-/]+$/i.test(rule)) {
      throw new EnvError(
        "HUBKEEP_ALLOWLIST",
        `rule "${rule}" may only hold handle characters, * and ?, with an optional leading !`,
      );
    }
  }
  if ((raw.HUBKEEP_OIDC_ISSUER !== undefined) !== (raw.HUBKEEP_OIDC_CLIENT_ID !== undefined)) {
    throw new EnvError(
      raw.HUBKEEP_OIDC_ISSUER ? "HUBKEEP_OIDC_CLIENT_ID" : "HUBKEEP_OIDC_ISSUER",
      "HUBKEEP_OIDC_ISSUER and HUBKEEP_OIDC_CLIENT_ID must be set together",
    );
  }
  if (
    blobStoreKind === "s3" &&
    raw.S3_ENDPOINT === undefined &&
    raw.S3_REGION === undefined &&
    !process.env.AWS_REGION
  ) {
    throw new EnvError(
      "S3_REGION",
      "an s3:// BLOB_STORE_URL needs S3_REGION (or S3_ENDPOINT for an S3-compatible server)",
    );
  }
  return {
    dataDir,
    port: raw.PORT,
    host: raw.HUBKEEP_HOST ?? "0.0.0.0",
    publicUrl: raw.HUBKEEP_PUBLIC_URL ?? `http://localhost:${raw.PORT}`,
    databaseUrl: raw.DATABASE_URL,
    blobStoreUrl,
    blobStoreKind,
    s3: {
      endpoint: raw.S3_ENDPOINT,
      region: raw.S3_REGION ?? process.env.AWS_REGION ?? "us-east-1",
      forcePathStyle: raw.S3_FORCE_PATH_STYLE || raw.S3_ENDPOINT !== undefined,
      accessKeyId: raw.AWS_ACCESS_KEY_ID,
      secretAccessKey: raw.AWS_SECRET_ACCESS_KEY,
    },
    s3Redirect,
    upstreamTfhub,
    upstreamHosts,
    allowPrivateUpstream: raw.HUBKEEP_ALLOW_PRIVATE_UPSTREAM,
    allowlist,
    adminEmail: raw.HUBKEEP_ADMIN_EMAIL,
    adminPassword: raw.HUBKEEP_ADMIN_PASSWORD,
    anonymousRead: raw.HUBKEEP_ANONYMOUS_READ,
    trustProxy: raw.HUBKEEP_TRUST_PROXY,
    authSecret: raw.AUTH_SECRET ?? raw.NEXTAUTH_SECRET,
    oidc: raw.HUBKEEP_OIDC_ISSUER
      ? {
          issuer: raw.HUBKEEP_OIDC_ISSUER,
          clientId: raw.HUBKEEP_OIDC_CLIENT_ID!,
          clientSecret: raw.HUBKEEP_OIDC_CLIENT_SECRET,
        }
      : undefined,
    inProcessWorker: raw.HUBKEEP_IN_PROCESS_WORKER,
    maxUploadBytes: raw.HUBKEEP_MAX_UPLOAD_BYTES,
    validation: {
      timeoutMs: raw.HUBKEEP_VALIDATE_TIMEOUT_SECONDS * 1000,
      memoryBytes: raw.HUBKEEP_VALIDATE_MEMORY_MB * 1024 * 1024,
      backend: raw.HUBKEEP_VALIDATE_BACKEND ?? "wasm",
    },
    archive: { maxEntries: raw.HUBKEEP_ARCHIVE_MAX_ENTRIES, maxRatio: raw.HUBKEEP_ARCHIVE_MAX_RATIO },
    jobs: {
      mirrorBudgetMs: raw.HUBKEEP_MIRROR_BUDGET_SECONDS * 1000,
      validateBudgetMs: raw.HUBKEEP_VALIDATE_BUDGET_SECONDS * 1000,
      mirrorConcurrency: raw.HUBKEEP_MIRROR_CONCURRENCY,
      resyncIntervalMs: raw.HUBKEEP_RESYNC_INTERVAL_HOURS * 3_600_000,
    },
    shutdownGraceMs: raw.HUBKEEP_SHUTDOWN_GRACE_SECONDS * 1000,
    migrationWaitMs: raw.HUBKEEP_MIGRATION_WAIT_SECONDS * 1000,
    metrics: { token: raw.HUBKEEP_METRICS_TOKEN, port: raw.HUBKEEP_METRICS_PORT || undefined },
    log: { format: raw.HUBKEEP_LOG_FORMAT, level: raw.HUBKEEP_LOG_LEVEL ?? "info" },
    client: { url: raw.HUBKEEP_URL, token: raw.HUBKEEP_TOKEN },
  };
}

/** A configuration error: `variable` names the environment variable at fault. */
export class EnvError extends Error {
  constructor(
    readonly variable: string,
    readonly reason: string,
  ) {
    super(`invalid configuration: ${variable}: ${reason}`);
    this.name = "EnvError";
  }
}

/** Parses an environment (pure; for tests and for `getEnv`). Throws EnvError on the first bad variable. */
export function parseEnv(source: Record<string, string | undefined>, cwd = process.cwd()): Env {
  const result = rawSchema.safeParse(source);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0] ?? "environment");
    const value = source[variable];
    const shown =
      value === undefined
        ? ""
        : ` (got "${variable.includes("SECRET") || variable.includes("PASSWORD") ? "***" : value}")`;
    throw new EnvError(variable, issue.message + (issue.message.includes("got") ? "" : shown));
  }
  return finish(result.data, cwd);
}

const cache = globalThis as { __hubkeepEnv?: Env };

/** The process's configuration, parsed once. */
export function getEnv(): Env {
  cache.__hubkeepEnv ??= parseEnv(process.env);
  return cache.__hubkeepEnv;
}

/** For entry points: parse the environment or print one line naming the variable and exit 1. */
export function getEnvOrExit(): Env {
  try {
    return getEnv();
  } catch (err) {
    if (err instanceof EnvError) {
      process.stderr.write(`hubkeep: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
