// The thin layer every JSON route handler uses: one wrapper that authenticates, refuses cross-site
// posts, enforces the permission rule the route declares, and maps errors; typed body/query parsing
// with zod; JSON with bigint support.
import type { z } from "zod";
import { AppError, toErrorResponse } from "../errors.ts";
import type { Rule } from "../auth/permissions.ts";
import type { Principal } from "../auth/principal.ts";
import { authenticateRequest, clientIp } from "./authenticate.ts";
import { authorize, csrfRefusal, type Caller } from "./authorize.ts";
import { crossSiteRefusal, isMutating } from "../auth/csrf.ts";
import { getEnv } from "../env.ts";
import { REQUEST_ID_HEADER } from "../log.ts";

type RouteContext<P> = { params: Promise<P> };

export type ApiContext<P, Q extends Principal = Principal> = {
  req: Request;
  params: P;
  /** The caller, narrowed by the route's declared rule. */
  principal: Q;
  ip: string | null;
  /** Checks a rule that depends on the request (a handle, an owner), refusing through authorize(). */
  authorize<R extends Principal>(rule: Rule<R>, target?: string): Promise<R>;
};

/** The rule a route declares: fixed, or built per request (from the environment). */
export type DeclaredRule<Q extends Principal> = Rule<Q> | (() => Rule<Q>);

/**
 * Wraps a route handler: authenticates, refuses cross-site posts, enforces `rule` (null: a public
 * route), runs, and turns any thrown error into the contract's JSON.
 */
export function apiRoute<P = Record<string, never>, Q extends Principal = Principal>(
  rule: DeclaredRule<Q> | null,
  handler: (ctx: ApiContext<P, Q>) => Promise<Response>,
) {
  return async (req: Request, route: RouteContext<P>): Promise<Response> => {
    try {
      const principal = await authenticateRequest(req);
      const caller: Caller = {
        principal,
        ip: clientIp(req),
        channel: "api",
        method: req.method,
        path: new URL(req.url).pathname,
      };
      await refuseCrossSite(req, caller);
      const allowed =
        rule === null ? (principal as Q) : await authorize(caller, typeof rule === "function" ? rule() : rule);
      const params = route?.params !== undefined ? await route.params : ({} as P);
      return await handler({
        req,
        params,
        principal: allowed,
        ip: caller.ip,
        authorize: (r, target) => authorize(caller, r, target),
      });
    } catch (err) {
      // The server entry decided the request's id and put it on the request's headers.
      return toErrorResponse(err, req.headers.get(REQUEST_ID_HEADER));
    }
  };
}

/**
 * CSRF: a mutating request authenticated by the session cookie must come from our own origin.
 * Token callers are exempt: a browser never attaches an Authorization header on its own.
 */
async function refuseCrossSite(req: Request, caller: Caller): Promise<void> {
  const p = caller.principal;
  if (p.kind !== "user" || p.via !== "session" || !isMutating(req.method)) return;
  const reason = crossSiteRefusal(req.headers, getEnv().publicUrl);
  if (!reason) return;
  throw await csrfRefusal(caller, reason, {
    origin: req.headers.get("origin"),
    secFetchSite: req.headers.get("sec-fetch-site"),
  });
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
