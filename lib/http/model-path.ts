// Parses the catch-all path of /api/v1/models/{handle}[/versions/{n}[/{action}]]. Handles hold
// slashes, so the route is one catch-all that dispatches on what follows the handle.
import { AppError } from "../errors.ts";
import { checkHandle } from "../upstream/handles.ts";

export type ModelPath = { handle: string; version?: number; action?: string };

export function parseModelPath(segments: string[]): ModelPath {
  const segs = segments.map((s) => decodeURIComponent(s));
  const at = segs.lastIndexOf("versions");
  if (at < 0) return { handle: checkHandle(segs.join("/")) };
  const handle = checkHandle(segs.slice(0, at).join("/"));
  const rest = segs.slice(at + 1);
  if (rest.length === 0) return { handle, action: "versions" };
  const n = Number(rest[0]);
  if (!/^\d+$/.test(rest[0]!) || !Number.isSafeInteger(n) || n < 1) throw new AppError("unprocessable_entity", `version "${rest[0]}" must be a positive integer`);
  if (rest.length > 2) throw new AppError("not_found", `no such resource under ${handle}/versions/${n}`);
  return { handle, version: n, action: rest[1] };
}
