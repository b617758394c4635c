// Which requests are downloads. The mirror's base URL replaces https://tfhub.dev, so a download is
// `/{handle}[/{n}][/{file}]` with a hub format query (tf-hub-format, tfjs-format, lite-format) or a
// TF.js file name after the version. Everything else (a browser opening /{handle}/{n}) is a page.
// Handles and version numbers follow lib/handle-path.ts.
import { AppError } from "../errors.ts";
import { HANDLE_SEGMENT, parseVersionNumber, splitHandleAndVersion } from "../handle-path.ts";
import { readReservedSegments } from "./reserved-segments.ts";

/** What a request path asks the hub for; `bad` is a download request it refuses (400). */
export type HubRequest =
  | {
      kind: "archive";
      handle: string;
      version: number | null;
      query: URLSearchParams;
      want: "compressed" | "uncompressed" | "tfjs-compressed";
    }
  | { kind: "tflite"; handle: string; version: number | null; query: URLSearchParams }
  | { kind: "file"; handle: string; version: number | null; file: string; query: URLSearchParams }
  | { kind: "blob"; digest: string }
  /** `/{handle}/@{name}[/{file}]`: a 302 to the pinned URL the alias points to, `tail` and query kept. */
  | { kind: "alias"; handle: string; name: string; tail: string; query: URLSearchParams }
  | { kind: "bad"; error: AppError };

// Read once, when the server loads this module at start-up.
const RESERVED = readReservedSegments();
const FILE = /^(model\.json|[A-Za-z0-9._-]+\.(bin|json)|[A-Za-z0-9._-]*shard[A-Za-z0-9._-]*)$/;

/** Parses a request path and query; null when it is not a download (the page app handles it). */
export function parseHubRequest(pathname: string, search: string): HubRequest | null {
  if (pathname.startsWith("/api/v1/blobs/")) {
    const ref = decodeURIComponentSafe(pathname.slice("/api/v1/blobs/".length));
    if (ref === null || !/^sha256:[0-9a-f]{64}$/.test(ref))
      return bad(`"${(ref ?? "").slice(0, 80)}" is not a blob digest: expected sha256:<64 lowercase hex>`);
    return { kind: "blob", digest: ref };
  }
  let segs: string[];
  try {
    segs = splitPath(pathname);
  } catch {
    return null;
  }
  if (segs.length < 2 || RESERVED.has(segs[0]!)) return null;
  for (let i = 2; i < segs.length; i++) if (segs[i]!.charCodeAt(0) === 64 /* @ */) return parseAlias(segs, i, search);
  for (const seg of segs) if (!HANDLE_SEGMENT.test(seg)) return null;
  const query = new URLSearchParams(search);
  const hub = query.get("tf-hub-format");
  const tfjs = query.get("tfjs-format");
  const lite = query.get("lite-format");
  const last = segs[segs.length - 1]!;

  // /{handle}/{n}/{file} and /{handle}/{file}
  if (FILE.test(last) && parseVersionNumber(last) === null) {
    if (parseVersionNumber(segs[segs.length - 2]) !== null) {
      const pinned = splitHandleAndVersion(segs, segs.length - 1);
      return pinned && { kind: "file", handle: pinned.handle, version: pinned.version, file: last, query };
    }
    // Unversioned file: only what a TF.js client asks for (model.json, or a query saying so).
    if (last === "model.json" || tfjs !== null)
      return { kind: "file", handle: segs.slice(0, -1).join("/").toLowerCase(), version: null, file: last, query };
    return null;
  }
  if (hub === null && tfjs === null && lite === null) return null;
  const split = splitHandleAndVersion(segs);
  if (!split) return null;
  const { handle, version } = split;
  if (lite !== null) {
    if (lite !== "tflite") return bad(`lite-format=${lite} is not served: use lite-format=tflite`);
    return { kind: "tflite", handle, version, query };
  }
  if (hub !== null) {
    if (hub === "compressed") return { kind: "archive", handle, version, query, want: "compressed" };
    if (hub === "uncompressed") return { kind: "archive", handle, version, query, want: "uncompressed" };
    return bad(`tf-hub-format=${hub} is not a format: use tf-hub-format=compressed`);
  }
  if (tfjs === "compressed") return { kind: "archive", handle, version, query, want: "tfjs-compressed" };
  if (tfjs === "file") return { kind: "file", handle, version, file: "model.json", query };
  return bad(`tfjs-format=${tfjs} is not a format: use tfjs-format=file or tfjs-format=compressed`);
}

const ALIAS = /^[a-z][a-z0-9-]{0,31}$/;

/** `/{handle}/@{name}` or `/{handle}/@{name}/{file}`; anything else with an `@` segment is a page. */
function parseAlias(segs: string[], at: number, search: string): HubRequest | null {
  const handleSegs = segs.slice(0, at);
  const rest = segs.slice(at + 1);
  if (handleSegs.length < 2 || rest.length > 1) return null;
  for (const seg of handleSegs) if (!HANDLE_SEGMENT.test(seg)) return null;
  if (rest.length === 1 && !FILE.test(rest[0]!)) return null;
  const name = segs[at]!.slice(1);
  if (!ALIAS.test(name))
    return bad(
      `"@${name.slice(0, 40)}" is not an alias: a lowercase letter, then up to 31 lowercase letters, digits or hyphens`,
    );
  return {
    kind: "alias",
    handle: handleSegs.join("/").toLowerCase(),
    name,
    tail: rest.length ? `/${rest[0]}` : "",
    query: new URLSearchParams(search),
  };
}

// Hot-path helpers live at module level: no closures are created per request.
function bad(message: string): HubRequest {
  return { kind: "bad", error: new AppError("bad_request", message) };
}

function splitPath(pathname: string): string[] {
  const out: string[] = [];
  for (const part of pathname.split("/"))
    if (part !== "") out.push(part.includes("%") ? decodeURIComponent(part) : part);
  return out;
}

function decodeURIComponentSafe(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** A single `bytes=` range, resolved against `size`. HTTP lets a server ignore what it cannot parse. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "unsatisfiable" | null {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return null; // malformed or several ranges: serve the whole body
  const [, a, b] = m;
  if (a === "" && b === "") return null;
  if (a === "") {
    const n = Number(b);
    if (!Number.isSafeInteger(n)) return null;
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return null;
  if (b !== "" && Number(b) < start) return null; // invalid: ignore
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/** Whether an If-None-Match list matches our strong ETag. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  for (const t of header.split(",")) if (t.trim().replace(/^W\//, "") === etag) return true;
  return false;
}
