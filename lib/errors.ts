// One error class, one code->status table, one mapper. Route handlers and the hub (lib/hub) throw
// AppError (or let zod and Prisma errors through); `toAppError` maps anything to one, which
// `toErrorResponse` renders as the contract's JSON error shape and the hub as plain text.
import { ZodError } from "zod";
import { currentRequest, getLogger } from "./log.ts";

export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  quota_exceeded: 413,
  range_not_satisfiable: 416,
  unprocessable_entity: 422,
  internal_error: 500,
  upstream_error: 502,
  digest_mismatch: 502,
  service_unavailable: 503,
  upstream_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "AppError";
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

type PrismaKnownError = { name: string; code: string; meta?: Record<string, unknown> };

// Duck-typed on purpose: the server bundle and the CLI may hold different copies of the generated
// client, so `instanceof` is not reliable. Match on Prisma's codes, never on messages.
function isPrismaKnownError(err: unknown): err is PrismaKnownError {
  return (
    typeof err === "object" &&
    err !== null &&
    (err as { name?: unknown }).name === "PrismaClientKnownRequestError" &&
    typeof (err as { code?: unknown }).code === "string"
  );
}

function describeZod(err: ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** Maps any thrown value to an AppError. Unknown errors become a 500 that leaks nothing. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) return new AppError("unprocessable_entity", describeZod(err));
  if (isPrismaKnownError(err)) {
    if (err.code === "P2002") {
      const target =
        err.meta?.target ?? (err.meta?.driverAdapterError as { cause?: { constraint?: unknown } })?.cause?.constraint;
      return new AppError("conflict", `already exists${target ? ` (${JSON.stringify(target)})` : ""}`);
    }
    if (err.code === "P2025") return new AppError("not_found", "not found");
  }
  return new AppError("internal_error", "internal error");
}

/**
 * The contract's error body: {"error":{"code","message"}}, plus `details` when the error carries
 * facts a client acts on (e.g. a version's current `status` on a 409), and the request's
 * X-Request-Id as `requestId` when known.
 */
export function errorBody(err: AppError, requestId?: string | null) {
  return {
    error: {
      code: err.code,
      message: err.message,
      ...(err.details ? { details: err.details } : {}),
      ...(requestId ? { requestId } : {}),
    },
  };
}

/**
 * toAppError, logging what it could not map: the client's 500 leaks nothing, the log keeps the
 * cause, with the request's id (given, else the current request's). `context` names the failed work.
 */
export function toLoggedAppError(err: unknown, context = "unhandled error", requestId?: string | null): AppError {
  const appErr = toAppError(err);
  if (appErr.code === "internal_error" && !(err instanceof AppError)) {
    getLogger().error({ err, requestId: requestId ?? currentRequest()?.requestId ?? null }, context);
  }
  return appErr;
}

/** The API's error response: the contract's JSON body with the code's status (and `requestId`). */
export function toErrorResponse(err: unknown, requestId?: string | null): Response {
  const id = requestId ?? currentRequest()?.requestId ?? null;
  const appErr = toLoggedAppError(err, "unhandled error", id);
  return Response.json(errorBody(appErr, id), { status: appErr.status });
}
