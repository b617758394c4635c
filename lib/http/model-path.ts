// Parses the catch-all path of /api/v1/models/{handle}[/versions/{n}[/{action}]] and
// /api/v1/models/{handle}/aliases/{name}. Handles hold
// slashes, so the route is one catch-all that dispatches on what follows the handle.
import { AppError } from "../errors.ts";
import { parseVersionNumber } from "../handle-path.ts";
import { checkHandle } from "../upstream/handles.ts";

/**
 * A parsed API path: the handle, the version number when the path has one, and what follows it;
 * for `/{handle}/aliases/{name}`, the alias name.
 */
export type ModelPath = { handle: string; version?: number; action?: string; alias?: string };

export function parseModelPath(segments: string[]): ModelPath {
  const segs = segments.map((s) => decodeURIComponent(s));
  const al = segs.lastIndexOf("aliases");
  if (al >= 2 && al === segs.length - 2 && !segs.slice(al).includes("versions"))
    return { handle: checkHandle(segs.slice(0, al).join("/")), action: "aliases", alias: segs[al + 1]! };
  const at = segs.lastIndexOf("versions");
  if (at < 0) return { handle: checkHandle(segs.join("/")) };
  const handle = checkHandle(segs.slice(0, at).join("/"));
  const rest = segs.slice(at + 1);
  if (rest.length === 0) return { handle, action: "versions" };
  const n = parseVersionNumber(rest[0]);
  if (n === null) throw new AppError("unprocessable_entity", `version "${rest[0]}" must be a positive integer`);
  if (rest.length > 2) throw new AppError("not_found", `no such resource under ${handle}/versions/${n}`);
  return { handle, version: n, action: rest[1] };
}

/**
 * Every operation the /api/v1/models/[...path] catch-all serves, as "METHOD template". The route
 * dispatches only through this table (dispatchModelRoute), and the OpenAPI test checks each entry
 * is documented: a sub-route cannot be served without being listed, nor listed without a doc.
 */
export const MODEL_ROUTES = [
  "GET /api/v1/models/{handle}",
  "PATCH /api/v1/models/{handle}",
  "GET /api/v1/models/{handle}/versions/{n}",
  "PUT /api/v1/models/{handle}/versions/{n}",
  "DELETE /api/v1/models/{handle}/versions/{n}",
  "POST /api/v1/models/{handle}/versions/{n}/validate",
  "POST /api/v1/models/{handle}/versions/{n}/approve",
  "POST /api/v1/models/{handle}/versions/{n}/reject",
  "PUT /api/v1/models/{handle}/aliases/{name}",
  "DELETE /api/v1/models/{handle}/aliases/{name}",
] as const;

export type ModelRoute = (typeof MODEL_ROUTES)[number];
export type ModelRouteMethod = ModelRoute extends `${infer M} ${string}` ? M : never;
/** The table's entries for one method. */
export type ModelRoutesFor<M extends ModelRouteMethod> = Extract<ModelRoute, `${M} ${string}`>;

/** The template a parsed path has: `/api/v1/models/{handle}[/versions[/{n}[/{action}]]]`. */
export function modelPathTemplate(p: ModelPath): string {
  const base = "/api/v1/models/{handle}";
  if (p.alias !== undefined) return `${base}/aliases/{name}`;
  if (p.version === undefined) return p.action === "versions" ? `${base}/versions` : base;
  return `${base}/versions/{n}${p.action ? `/${p.action}` : ""}`;
}

/**
 * Parses the catch-all path and calls the handler of the table entry it matches. Every entry of the
 * table for `method` must have a handler (the type says so); anything else is a 404.
 */
export async function dispatchModelRoute<M extends ModelRouteMethod>(
  method: M,
  segments: string[],
  handlers: Record<ModelRoutesFor<M>, (p: ModelPath) => Promise<Response>>,
): Promise<Response> {
  const p = parseModelPath(segments);
  const key = `${method} ${modelPathTemplate(p)}`;
  const handler = (handlers as Record<string, ((p: ModelPath) => Promise<Response>) | undefined>)[key];
  if (!handler || !(MODEL_ROUTES as readonly string[]).includes(key)) {
    const known = MODEL_ROUTES.filter((r) => r.endsWith(` ${modelPathTemplate(p)}`)).map((r) => r.split(" ")[0]);
    throw new AppError(
      "not_found",
      `no such resource: ${method} /api/v1/models/${segments.join("/")}${known.length ? ` (${modelPathTemplate(p)} serves ${known.join(", ")})` : ""}`,
    );
  }
  return handler(p);
}
