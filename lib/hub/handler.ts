// The download path: hub-protocol URLs and /api/v1/blobs/sha256:<hex>, served by the Node server
// before the page app (lib/server/main.ts) so that bytes stream straight from the store with
// back-pressure. Only approved versions are served, except to admins; every file response is
// pinned: strong ETag, Content-Digest, immutable caching, Range, If-None-Match, If-Range and HEAD.
import type http from "node:http";
import { pipeline } from "node:stream";
import { getEnv } from "../env.ts";
import { AppError, toLoggedAppError } from "../errors.ts";
import { isTfjs } from "../formats/format.ts";
import { getBlobStore } from "../storage/index.ts";
import { authenticateRequest, clientIp } from "../http/authenticate.ts";
import { canReadApproved, canReadUnapproved } from "../auth/permissions.ts";
import type { Principal } from "../auth/principal.ts";
import {
  getServable,
  getServableBlob,
  peekServable,
  type ServableModule,
  type ServableVersion,
} from "../models/served-versions.ts";
import { countDownload } from "../models/downloads.ts";
import type { RequestContext } from "../log.ts";
import { recordDownload, recordServedBytes, setRoute, type DownloadKind } from "../metrics.ts";

import { etagMatches, parseHubRequest, parseRange, type HubRequest } from "./hub-path.ts";
import { formatContentDisposition, type DispositionType } from "./content-disposition.ts";

/** The `route` label of a hub request: the templates lib/metrics.ts reads from the same paths. */
function hubRoute(hub: Exclude<HubRequest, { kind: "bad" }>): string {
  if (hub.kind === "blob") return "/api/v1/blobs/{digest}";
  if (hub.kind === "alias") return hub.tail ? "/{handle}/@{alias}/{file}" : "/{handle}/@{alias}";
  if (hub.kind === "file") return hub.version === null ? "/{handle}/{file}" : "/{handle}/{n}/{file}";
  return hub.version === null ? "/{handle}" : "/{handle}/{n}";
}

const PRESIGN_TTL_SECONDS = 300;
const SMALL_BLOB_BYTES = 256 * 1024;
const SMALL_CACHE_BYTES = 64 * 1024 * 1024;

// digest -> bytes, least recently used first (Map keeps insertion order).
const smallCache = new Map<string, Buffer>();
let smallCacheBytes = 0;

async function smallBlob(digest: string, size: number): Promise<Buffer> {
  const hit = smallCache.get(digest);
  if (hit) {
    smallCache.delete(digest);
    smallCache.set(digest, hit);
    return hit;
  }
  const chunks: Buffer[] = [];
  for await (const c of await getBlobStore().get(digest)) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  if (bytes.length !== size) throw new Error(`blob ${digest} has ${bytes.length} bytes, the database says ${size}`);
  smallCache.set(digest, bytes);
  smallCacheBytes += bytes.length;
  for (const [k, v] of smallCache) {
    if (smallCacheBytes <= SMALL_CACHE_BYTES) break;
    smallCache.delete(k);
    smallCacheBytes -= v.length;
  }
  return bytes;
}

type Servable = {
  digest: string;
  size: number;
  filename: string;
  contentType: string;
  disposition: DispositionType;
  versionId: string;
  target: string;
  approved: boolean;
  /** What the download is counted under in /metrics. */
  kind: DownloadKind;
};

const CHALLENGE = { "www-authenticate": 'Bearer realm="hubkeep", Basic realm="hubkeep"' };

/**
 * The hub's error response: the AppError's status and message as plain text (tensorflow_hub and
 * TF.js read the status, people the text). Every 401 carries the authentication challenge.
 */
function sendError(res: http.ServerResponse, err: AppError, headers?: Record<string, string>) {
  const message = err.message;
  const buf = Buffer.from(message.endsWith("\n") ? message : message + "\n");
  res.writeHead(err.status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": buf.length,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...(err.code === "unauthorized" ? CHALLENGE : undefined),
    ...headers,
  });
  res.end(res.req.method === "HEAD" ? undefined : buf);
}

function toWebHeaders(req: http.IncomingMessage): Request {
  // authenticateRequest only reads headers; a light Request-shaped view avoids building a real one.
  return {
    headers: { get: (k: string) => (req.headers[k.toLowerCase()] as string | undefined) ?? null },
  } as unknown as Request;
}

function formatsOf(v: ServableVersion): string {
  if (v.format === "tflite") return "lite-format=tflite";
  if (isTfjs(v.format)) return "model.json (tfjs-format=file), tfjs-format=compressed, tf-hub-format=compressed";
  return "tf-hub-format=compressed";
}

function lastSegment(handle: string) {
  return handle.split("/").pop()!;
}

/** Resolves a hub request to the bytes to send, a redirect, or an error. */
async function resolve(
  r: Exclude<HubRequest, { kind: "bad" } | { kind: "blob" } | { kind: "alias" }>,
  principal: Principal,
): Promise<Servable | { redirect: string }> {
  const cached = peekServable(r.handle);
  return resolveIn(cached !== undefined ? cached : await getServable(r.handle), r, principal);
}

/**
 * `/{handle}/@{name}[/{file}]`: a redirect to the pinned URL of the version the alias points to, the
 * file and query kept. An alias whose version is no longer approved serves nothing.
 */
async function resolveAlias(r: Extract<HubRequest, { kind: "alias" }>): Promise<{ redirect: string }> {
  const cached = peekServable(r.handle);
  const mod = cached !== undefined ? cached : await getServable(r.handle);
  if (!mod) throw new AppError("not_found", `no model ${r.handle}`);
  const n = mod.aliases.get(r.name);
  if (n === undefined) {
    const known = [...mod.aliases.keys()];
    throw new AppError(
      "not_found",
      `${mod.handle} has no alias ${r.name}${known.length ? ` (it has: ${known.join(", ")})` : ""}`,
    );
  }
  const v = mod.versions.get(n);
  if (!v || v.status !== "approved")
    throw new AppError(
      "not_found",
      `alias ${r.name} of ${mod.handle} points to version ${n}, which is ${v?.status ?? "gone"}: nothing is served under it`,
    );
  const q = r.query.toString();
  return { redirect: `/${mod.handle}/${n}${r.tail}${q ? `?${q}` : ""}` };
}

function resolveIn(
  mod: ServableModule | null,
  r: Exclude<HubRequest, { kind: "bad" } | { kind: "blob" } | { kind: "alias" }>,
  principal: Principal,
): Servable | { redirect: string } {
  const admin = canReadUnapproved(principal);
  if (!mod) throw new AppError("not_found", `no model ${r.handle}`);
  if (r.version === null) {
    const undeleted = [...mod.versions.values()].filter((v) => !v.deleted).map((v) => v.number);
    const latest = admin ? Math.max(mod.latestApproved ?? 0, ...undeleted) : mod.latestApproved;
    if (!latest) throw new AppError("not_found", `${r.handle} has no approved version`);
    const q = r.query.toString();
    const tail = r.kind === "file" ? `/${r.file}` : "";
    return { redirect: `/${mod.handle}/${latest}${tail}${q ? `?${q}` : ""}` };
  }
  const v = mod.versions.get(r.version);
  if (v?.deleted)
    throw new AppError(
      "gone",
      `${mod.handle}/${v.number} was deleted${v.deleted.at ? ` on ${v.deleted.at.toISOString()}` : ""}` +
        `${v.deleted.reason ? `: ${v.deleted.reason}` : ""}; it is not served any more`,
    );
  if (!v || (v.status !== "approved" && !admin))
    throw new AppError("not_found", `no version ${r.version} of ${r.handle}`);
  const base = {
    versionId: v.id,
    target: `${mod.handle}/${v.number}`,
    approved: v.status === "approved",
    kind: v.format,
  };
  const tfjs = isTfjs(v.format);
  if (r.kind === "archive") {
    if (r.want === "uncompressed") {
      throw new AppError(
        "bad_request",
        "tf-hub-format=uncompressed is not served by this mirror: it answers with a gs:// location, which an S3 mirror does not have. Use the default compressed format (unset TFHUB_MODEL_LOAD_FORMAT, or set it to COMPRESSED).",
      );
    }
    if (v.format === "tflite")
      throw new AppError("not_found", `${base.target} is a TFLite model; it has: ${formatsOf(v)}`);
    if (r.want === "tfjs-compressed" && !tfjs)
      throw new AppError("not_found", `${base.target} is not a TF.js model; it has: ${formatsOf(v)}`);
    return {
      ...base,
      digest: v.digest,
      size: v.size,
      filename: `${lastSegment(mod.handle)}_${v.number}.tar.gz`,
      contentType: "application/gzip",
      disposition: "attachment",
    };
  }
  if (r.kind === "tflite") {
    if (v.format !== "tflite")
      throw new AppError("not_found", `${base.target} has no TFLite file; it has: ${formatsOf(v)}`);
    return {
      ...base,
      digest: v.digest,
      size: v.size,
      filename: `${lastSegment(mod.handle)}_${v.number}.tflite`,
      contentType: "application/octet-stream",
      disposition: "attachment",
    };
  }
  if (!tfjs) throw new AppError("not_found", `${base.target} is not a TF.js model; it has: ${formatsOf(v)}`);
  const f = v.files.get(r.file);
  if (!f) throw new AppError("not_found", `${base.target} has no file ${r.file}`);
  const json = r.file.endsWith(".json");
  return {
    ...base,
    digest: f.digest,
    size: f.size,
    filename: r.file,
    contentType: json ? "application/json" : "application/octet-stream",
    disposition: json ? "inline" : "attachment",
  };
}

// Pinned headers depend only on the blob, its name and the cache mode: built once per combination.
const headerCache = new Map<string, Record<string, string>>();

function pinnedHeaders(s: Servable, opts: { privateCache: boolean }): Record<string, string> {
  const key = `${s.digest}|${s.filename}|${s.contentType}|${s.disposition}|${opts.privateCache}`;
  let h = headerCache.get(key);
  if (!h) {
    h = buildPinnedHeaders(s, opts);
    if (headerCache.size > 50_000) headerCache.clear();
    headerCache.set(key, h);
  }
  return h;
}

function buildPinnedHeaders(s: Servable, opts: { privateCache: boolean }): Record<string, string> {
  const hex = s.digest.slice("sha256:".length);
  const b64 = Buffer.from(hex, "hex").toString("base64");
  return {
    etag: `"${s.digest}"`,
    "repr-digest": `sha-256=:${b64}:`,
    "cache-control": `${opts.privateCache ? "private" : "public"}, max-age=31536000, immutable`,
    "content-type": s.contentType,
    "content-disposition": formatContentDisposition(s.disposition, s.filename),
    "accept-ranges": "bytes",
    "x-content-type-options": "nosniff",
  };
}

async function send(req: http.IncomingMessage, res: http.ServerResponse, s: Servable, principal: Principal) {
  const env = getEnv();
  const head = req.method === "HEAD";
  const headers = pinnedHeaders(s, { privateCache: !env.anonymousRead });
  if (etagMatches(req.headers["if-none-match"], headers.etag!)) {
    res.writeHead(304, { etag: headers.etag!, "cache-control": headers["cache-control"]! });
    return res.end();
  }
  let range = parseRange(req.headers.range, s.size);
  const ifRange = req.headers["if-range"] as string | undefined;
  if (range && ifRange !== undefined && ifRange.trim() !== headers.etag) range = null; // stale: whole body
  if (range === "unsatisfiable") {
    const err = new AppError("range_not_satisfiable", `range not satisfiable: the file has ${s.size} bytes`);
    return sendError(res, err, { "content-range": `bytes */${s.size}`, "accept-ranges": "bytes", etag: headers.etag! });
  }
  const store = getBlobStore();
  if (!head && (!range || range.start === 0)) {
    countDownload(s.versionId, principal, s.target, principal.kind === "user" ? clientIp(toWebHeaders(req)) : null);
    recordDownload(s.kind);
  }
  if (!head) recordServedBytes(s.kind, range ? range.end - range.start + 1 : s.size);
  // S3 with redirect: the bytes bypass the app. HEAD is answered here (a presigned GET is GET-only).
  if (!head && env.s3Redirect && store.kind === "s3" && store.presignGet) {
    const url = await store.presignGet(s.digest, {
      contentDisposition: headers["content-disposition"]!,
      ttlSeconds: PRESIGN_TTL_SECONDS,
    });
    res.writeHead(302, { location: url, "cache-control": "no-store", etag: headers.etag!, "content-length": 0 });
    return res.end();
  }
  if (range) {
    res.writeHead(206, {
      ...headers,
      "content-range": `bytes ${range.start}-${range.end}/${s.size}`,
      "content-length": range.end - range.start + 1,
    });
  } else {
    res.writeHead(200, { ...headers, "content-digest": headers["repr-digest"]!, "content-length": s.size });
  }
  if (head || s.size === 0) return res.end();
  // Small files (model.json, small shards) come from memory: blobs are immutable, so a copy keyed by
  // digest never goes stale.
  if (s.size <= SMALL_BLOB_BYTES) {
    const bytes = await smallBlob(s.digest, s.size);
    return res.end(range ? bytes.subarray(range.start, range.end + 1) : bytes);
  }
  const body = await store.get(s.digest, range ? { range } : undefined);
  // pipeline destroys the store stream (closing its descriptor or socket) when the client goes away.
  pipeline(body, res, () => {});
}

/**
 * Handles a download request; returns false when the request is not one (the page app serves it).
 */
export async function handleDownload(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ctx?: RequestContext,
): Promise<boolean> {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const q = req.url!.indexOf("?");
  const pathname = q < 0 ? req.url! : req.url!.slice(0, q);
  const search = q < 0 ? "" : req.url!.slice(q + 1);
  const hub = parseHubRequest(pathname, search);
  if (!hub) return false;
  if (hub.kind !== "bad") setRoute(res, hubRoute(hub));
  try {
    if (hub.kind === "bad") throw hub.error;
    const principal = await authenticateRequest(toWebHeaders(req));
    if (ctx) ctx.principalId = principal.kind === "user" ? principal.userId : null;
    const env = getEnv();
    if (!canReadApproved(principal, { anonymousRead: env.anonymousRead })) {
      if (principal.kind === "anonymous")
        throw new AppError(
          "unauthorized",
          "authentication required: send Authorization: Bearer <token> (or HTTP Basic with the token as the password)",
        );
      throw new AppError("forbidden", "this token cannot download models: it needs the read scope");
    }
    let servable: Servable | { redirect: string };
    if (hub.kind === "blob") {
      const b = await getServableBlob(hub.digest);
      if (!b || (!b.approved && !canReadUnapproved(principal)))
        throw new AppError("not_found", `no downloadable blob ${hub.digest}`);
      servable = {
        digest: hub.digest,
        size: b.size,
        filename: `${hub.digest.replace(":", "-")}`,
        contentType: "application/octet-stream",
        disposition: "attachment",
        versionId: b.versionId,
        target: hub.digest,
        approved: b.approved,
        kind: "blob",
      };
    } else if (hub.kind === "alias") {
      servable = await resolveAlias(hub);
    } else {
      servable = await resolve(hub, principal);
    }
    if ("redirect" in servable) {
      res.writeHead(302, { location: servable.redirect, "cache-control": "no-cache", "content-length": 0 });
      res.end();
      return true;
    }
    await send(req, res, servable, principal);
  } catch (err) {
    if (res.headersSent) {
      res.destroy(err as Error);
      return true;
    }
    sendError(res, toLoggedAppError(err, "download failed", ctx?.requestId));
  }
  return true;
}
