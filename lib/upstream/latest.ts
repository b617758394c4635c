// Which version "latest" is, asked of the upstream (one request, no download):
//  - tfhub.dev: the unversioned URL redirects to the latest version, today on Kaggle
//    (`https://www.kaggle.com/models/<owner>/<model>/<framework>/<variation>/<n>?tfhub-redirect=true`,
//    or the long form `…/versions/<n>`); an unknown handle redirects to Kaggle's model search
//    (`/models?tfhub-redirect=true`). The redirect is read, never followed to its page.
//  - Kaggle: the model-instance endpoint `GET /api/v1/models/<owner>/<model>/<framework>/<variation>/get`
//    answers JSON with the latest `versionNumber` (`version_number` in Kaggle's SDK).
// Anything else the upstream answers is a 502 naming it; no answer at all is a 503.
import type { ParsedModelUrl } from "./handles.ts";
import { openUpstream, UpstreamError, type FetchPolicy } from "./fetcher.ts";
import { kaggleInstanceUrl, tfhubLatestUrl } from "./urls.ts";
import { isVersionNumber, parseVersionNumber } from "../handle-path.ts";

/** One request's budget: this runs while a client waits for its answer. */
const LATEST_POLICY = {
  retries: 1,
  backoffMs: 300,
  maxRedirects: 0,
  connectTimeoutMs: 5000,
  idleTimeoutMs: 10_000,
  totalTimeoutMs: 15_000,
  maxBytes: 1024 * 1024,
} as const;

/** The version a redirect target names: `/<handle>/<n>` on the upstream, or a Kaggle model URL. */
export function versionInLocation(location: URL, handle: string): number | null {
  const path = decodeURIComponent(location.pathname).replace(/\/+$/, "");
  const hits = [
    new RegExp(`^/${handle.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/(\\d+)$`, "i").exec(path),
    /^\/models\/[^/]+\/[^/]+\/[^/]+\/[^/]+\/(\d+)$/i.exec(path),
    /^\/models\/[^/]+\/[^/]+\/frameworks\/[^/]+\/variations\/[^/]+\/versions\/(\d+)$/i.exec(path),
  ];
  const m = hits.find((h) => h !== null);
  if (!m) return null;
  return parseVersionNumber(m[1]);
}

function describeAnswer(res: { status: number; headers: Record<string, string> }, url: string): string {
  const type = res.headers["content-type"]?.split(";")[0]?.trim();
  return `${new URL(url).host} answered ${res.status}${type ? ` (${type})` : ""} for ${url}`;
}

async function readSmall(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Asks the upstream which version of `parsed.handle` is the latest. Throws UpstreamError:
 * `unavailable` (503) when nothing answered, `bad_response` (502) naming what did answer.
 */
export async function askLatestVersion(
  parsed: Pick<ParsedModelUrl, "source" | "handle">,
  policy: FetchPolicy,
  opts: { kaggleBase?: string } = {},
): Promise<number> {
  const p: FetchPolicy = { ...policy, ...LATEST_POLICY };
  if (parsed.source === "kaggle") {
    const url = kaggleInstanceUrl(parsed.handle, opts.kaggleBase);
    const res = await openUpstream(url, p, { expect: "json", headers: { accept: "application/json" } });
    const text = await readSmall(res.body);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new UpstreamError(
        `${describeAnswer(res, url)}, not JSON (${text.slice(0, 40).replace(/\s+/g, " ")}…): cannot tell the latest version`,
        "bad_response",
      );
    }
    const d = (doc ?? {}) as { versionNumber?: unknown; version_number?: unknown };
    const n = d.versionNumber ?? d.version_number;
    if (typeof n !== "number" || !isVersionNumber(n)) {
      throw new UpstreamError(
        `${describeAnswer(res, url)} without a version number (versionNumber): cannot tell the latest version`,
        "bad_response",
      );
    }
    return n;
  }
  // tfhub.dev: follow same-origin hops by hand (at most 3) until one names a version.
  const base = new URL(policy.upstreamBase);
  let url = tfhubLatestUrl(parsed.handle, policy.upstreamBase);
  for (let hop = 0; hop < 3; hop++) {
    const res = await openUpstream(url, p, { expect: "json", redirect: "manual" });
    if (res.status < 300 || res.status > 399) {
      await res.discard();
      throw new UpstreamError(
        `${describeAnswer(res, url)} instead of a redirect to a versioned URL: cannot tell the latest version`,
        "bad_response",
      );
    }
    const raw = res.headers["location"] ?? "";
    if (!raw)
      throw new UpstreamError(
        `${describeAnswer(res, url)} without a Location: cannot tell the latest version`,
        "bad_response",
      );
    let location: URL;
    try {
      location = new URL(raw, url);
    } catch {
      throw new UpstreamError(
        `${describeAnswer(res, url)} with an unusable Location "${raw.slice(0, 200)}"`,
        "bad_response",
      );
    }
    const n = versionInLocation(location, parsed.handle);
    if (n !== null) return n;
    if (/^\/models\/?$/.test(location.pathname)) {
      throw new UpstreamError(
        `upstream has no such model: ${new URL(url).host} redirected ${parsed.handle} to ${location.href} (Kaggle's model search), which names no version`,
        "bad_response",
      );
    }
    // Canonicalising hops on the upstream itself (a trailing slash, http -> https) are followed.
    if (location.host !== base.host) {
      throw new UpstreamError(
        `${describeAnswer(res, url)} redirecting to ${location.href}, which names no version: cannot tell the latest version`,
        "bad_response",
      );
    }
    url = location.href;
  }
  throw new UpstreamError(
    `${base.host} redirected ${parsed.handle} more than 3 times without naming a version`,
    "bad_response",
  );
}
