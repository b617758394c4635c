// The thin layer every JSON route handler uses: one wrapper that maps errors, typed body/query
// parsing with zod, permission checks that audit denials, and JSON with bigint support.
import { z } from "zod";
import { AppError, toErrorResponse } from "../errors.ts";
import { recordAudit } from "../audit.ts";
import { describePermission, type Permission } from "../auth/permissions.ts";
import type { Principal } from "../auth/principal.ts";
import { authenticateRequest, clientIp } from "./authenticate.ts";
import { crossSiteRefusal, isMutating } from "../auth/csrf.ts";
import { getEnv } from "../env.ts";

type RouteContext<P> = { params: Promise<P> };

export type ApiContext<P> = { req: Request; params: P; principal: Principal; ip: string | null };

/** Wraps a route handler: authenticates, runs, and turns any thrown error into the contract's JSON. */
export function apiRoute<P = Record<string, never>>(handler: (ctx: ApiContext<P>) => Promise<Response>) {
  return async (req: Request, route: RouteContext<P>): Promise<Response> => {
    try {
      const principal = await authenticateRequest(req);
      const ip = clientIp(req);
      await refuseCrossSite(req, principal, ip);
      const params = route?.params ? await route.params : ({} as P);
      return await handler({ req, params, principal, ip });
    } catch (err) {
      return toErrorResponse(err);
    }
  };
}

/**
 * CSRF: a mutating request authenticated by the session cookie must come from our own origin.
 * Token callers are exempt: a browser never attaches an Authorization header on its own.
 */
export async function refuseCrossSite(req: Request, principal: Principal, ip: string | null): Promise<void> {
  if (principal.kind !== "user" || principal.via !== "session" || !isMutating(req.method)) return;
  const reason = crossSiteRefusal(req.headers, getEnv().publicUrl);
  if (!reason) return;
  await recordAudit({
    actor: principal,
    action: "denied.csrf",
    outcome: "denied",
    ip,
    details: { method: req.method, path: new URL(req.url).pathname, reason, origin: req.headers.get("origin"), secFetchSite: req.headers.get("sec-fetch-site") },
  });
  throw new AppError("forbidden", reason);
}

/**
 * Throws 401 for anonymous callers and 403 (naming the permission) for signed-in ones when `allowed`
 * is false; either way the attempt is audited.
 */
export async function requirePermission(ctx: ApiContext<unknown>, allowed: boolean, perm: Permission, target?: string, why?: string): Promise<void> {
  if (allowed) return;
  const anonymous = ctx.principal.kind === "anonymous";
  await recordAudit({
    actor: ctx.principal,
    action: `denied.${perm}`,
    outcome: "denied",
    ip: ctx.ip,
    target,
    details: { method: ctx.req.method, path: new URL(ctx.req.url).pathname },
  });
  if (anonymous) throw new AppError("unauthorized", "authentication required: sign in, or send Authorization: Bearer <token>");
  throw new AppError("forbidden", `this needs the ${describePermission(perm)} permission${why ? `: ${why}` : ""}`);
}

/** Parses a JSON body: 400 if it is not JSON, 422 if it does not match the schema. */
export async function parseBody<S extends z.ZodType>(req: Request, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    const text = await req.text();
    raw = text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    throw new AppError("bad_request", "request body is not valid JSON");
  }
  return schema.parse(raw);
}

/** Parses the query string against a schema (422 on mismatch). */
export function parseQuery<S extends z.ZodType>(req: Request, schema: S): z.infer<S> {
  const params = new URL(req.url).searchParams;
  const obj: Record<string, string> = {};
  for (const [k, v] of params) obj[k] = v;
  return schema.parse(obj);
}

function replacer(_key: string, value: unknown) {
  return typeof value === "bigint" ? Number(value) : value;
}

/** JSON response; bigints (sizes, byte counts) are written as numbers. */
export function json(data: unknown, init?: ResponseInit): Response {
  return new Response(JSON.stringify(data, replacer), {
    ...init,
    headers: { "content-type": "application/json; charset=utf-8", ...(init?.headers ?? {}) },
  });
}
