// The only way Hubkeep talks to the outside world: a fetcher for upstream model files.
//  - https only, except the configured upstream base (HUBKEEP_UPSTREAM_TFHUB) itself;
//  - redirects followed by hand, at most 5 hops, each hop re-checked against the allowed hosts
//    (HUBKEEP_UPSTREAM_HOSTS plus the upstream base's host); credentials dropped on a cross-host hop;
//  - every address checked where it is decided: in the DNS lookup and, for IP literals, in the
//    connect hook, so DNS rebinding cannot reach a private or metadata address;
//  - connect, idle and total timeouts, a maximum size, a body-length check;
//  - retries with exponential backoff and jitter on network errors, 429 and 5xx, never on 4xx;
//  - HTML or XML where a file was expected is reported as "not a module".
import dns from "node:dns";
import net from "node:net";
import { Agent, buildConnector, request, type Dispatcher } from "undici";
import { AppError } from "../errors.ts";
import { checkAddress } from "./address-policy.ts";
import { recordUpstreamBytes, recordUpstreamRequest, type UpstreamOutcome } from "../metrics.ts";

export type FetchPolicy = {
  /** Hosts a hop may go to (`host` or `host:port`). */
  allowedHosts: string[];
  /** The configured upstream base; the only origin that may be plain http. */
  upstreamBase: string;
  allowPrivate: boolean;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  totalTimeoutMs?: number;
  maxBytes?: number;
  maxRedirects?: number;
  retries?: number;
  backoffMs?: number;
};

/** An upstream failure, in words a user understands. `unavailable` ones are 503, the rest 502. */
export class UpstreamError extends AppError {
  constructor(
    message: string,
    readonly kind: "unavailable" | "bad_response" | "refused" | "not_a_module" | "too_large",
    readonly retryable = false,
    /** The upstream's HTTP status, when it answered at all. */
    readonly httpStatus?: number,
  ) {
    super(
      kind === "unavailable" ? "upstream_unavailable" : kind === "too_large" ? "payload_too_large" : "upstream_error",
      message,
    );
    this.name = "UpstreamError";
  }
}

/** The policy from the environment. */
export function policyFromEnv(env: {
  upstreamTfhub: string;
  upstreamHosts: string[];
  allowPrivateUpstream: boolean;
}): FetchPolicy {
  return {
    allowedHosts: [...env.upstreamHosts, new URL(env.upstreamTfhub).host.toLowerCase()],
    upstreamBase: env.upstreamTfhub,
    allowPrivate: env.allowPrivateUpstream,
  };
}

const DEFAULTS = {
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  totalTimeoutMs: 30 * 60_000,
  maxBytes: 20 * 1024 ** 3,
  maxRedirects: 5,
  retries: 3,
  backoffMs: 500,
};

class RefusedAddress extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "RefusedAddress";
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/** A dispatcher whose lookup and connect refuse addresses the policy does not allow. */
export function guardedDispatcher(
  policy: Pick<FetchPolicy, "allowPrivate" | "connectTimeoutMs" | "idleTimeoutMs">,
): Dispatcher {
  const opts = { allowPrivate: policy.allowPrivate };
  const lookup = (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const v = checkAddress(a.address, opts);
        if (!v.allowed)
          return callback(
            Object.assign(new RefusedAddress(`${v.reason} (${hostname} resolved to ${a.address})`), {
              code: "EHUBKEEPREFUSED",
            }),
            [],
          );
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
  const base = buildConnector({ timeout: policy.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, lookup: lookup });
  return new Agent({
    headersTimeout: policy.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    bodyTimeout: policy.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    connect(options, callback) {
      const host = options.hostname.replace(/^\[|\]$/g, "");
      if (net.isIP(host)) {
        // IP literals skip DNS: decide here, before any packet is sent.
        const v = checkAddress(host, opts);
        if (!v.allowed) return callback(new RefusedAddress(v.reason), null);
      }
      base(options, callback);
    },
  });
}

/** Is this URL a hop the policy allows? Returns the reason when not. */
export function checkHop(url: URL, policy: FetchPolicy): string | null {
  const base = new URL(policy.upstreamBase);
  if (url.username || url.password) return `upstream URL ${url.origin} carries credentials: refused`;
  const host = url.host.toLowerCase();
  const hostname = url.hostname.toLowerCase();
  if (!policy.allowedHosts.some((h) => h === host || (!h.includes(":") && h === hostname))) {
    return `redirect to ${host} refused: it is not in HUBKEEP_UPSTREAM_HOSTS`;
  }
  const sameAsBase = url.origin === base.origin;
  if (url.protocol !== "https:" && !(sameAsBase && url.protocol === "http:"))
    return `only https is allowed for upstream fetches, not ${url.protocol}//${url.host}`;
  return null;
}

/** Headers for the next hop: credentials and cookies never follow a redirect to another host. */
export function headersForHop(headers: Record<string, string>, from: URL, to: URL): Record<string, string> {
  if (from.host === to.host && from.protocol === to.protocol) return headers;
  return Object.fromEntries(
    Object.entries(headers).filter(([k]) => !/^(authorization|cookie|proxy-authorization)$/i.test(k)),
  );
}

export type UpstreamResponse = {
  url: string;
  status: number;
  headers: Record<string, string>;
  contentLength: number | null;
  /** The body, sniffed for HTML/XML, counted against maxBytes and checked against Content-Length. */
  body: AsyncIterable<Buffer>;
  /** Discards the body (frees the connection). */
  discard(): Promise<void>;
};

function header(h: Dispatcher.ResponseData["headers"], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function flatten(h: Dispatcher.ResponseData["headers"]): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(", ") : v;
  return flat;
}

function describeNetworkError(err: unknown, url: URL, totalMs: number): UpstreamError {
  const e = err as {
    name?: string;
    code?: string;
    message?: string;
    cause?: { name?: string; code?: string; message?: string };
  };
  const inner = e.cause ?? e;
  if (e.name === "RefusedAddress" || inner.name === "RefusedAddress")
    return new UpstreamError(inner.message ?? e.message ?? "refused", "refused");
  if (e.name === "TimeoutError" || e.name === "AbortError")
    return new UpstreamError(
      `timed out after ${Math.round(totalMs / 1000)} s fetching ${url.host}`,
      "unavailable",
      true,
    );
  const code = inner.code ?? e.code;
  if (code === "UND_ERR_CONNECT_TIMEOUT")
    return new UpstreamError(`timed out connecting to ${url.host}`, "unavailable", true);
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT")
    return new UpstreamError(`timed out after ${url.host} stopped sending`, "unavailable", true);
  if (code === "ENOTFOUND" || code === "EAI_AGAIN")
    return new UpstreamError(`upstream unreachable: cannot resolve ${url.hostname}`, "unavailable", true);
  if (code === "ECONNREFUSED")
    return new UpstreamError(`upstream unreachable: ${url.host} refused the connection`, "unavailable", true);
  return new UpstreamError(
    `upstream unreachable: ${url.host}: ${inner.message ?? e.message ?? String(err)}${code ? ` (${code})` : ""}`,
    "unavailable",
    true,
  );
}

function sniffMarkup(first: Buffer): "HTML" | "XML" | null {
  const head = first
    .subarray(0, 512)
    .toString("utf8")
    .replace(/^\uFEFF/, "")
    .trimStart()
    .toLowerCase();
  if (
    head.startsWith("<!doctype html") ||
    head.startsWith("<html") ||
    head.startsWith("<head") ||
    head.startsWith("<body")
  )
    return "HTML";
  if (head.startsWith("<?xml") || head.startsWith("<error")) return "XML";
  return null;
}

/** One attempt: follow redirects by hand, return the final 2xx response with a guarded body. */
async function attempt(
  start: URL,
  policy: FetchPolicy,
  dispatcher: Dispatcher,
  init: {
    headers?: Record<string, string>;
    expect: "file" | "json";
    redirect: "follow" | "manual";
    signal: AbortSignal;
    startedAt: number;
    notModified?: boolean;
  },
): Promise<UpstreamResponse> {
  const maxRedirects = policy.maxRedirects ?? DEFAULTS.maxRedirects;
  const maxBytes = policy.maxBytes ?? DEFAULTS.maxBytes;
  let url = start;
  let headers = { ...(init.headers ?? {}) };
  for (let hop = 0; ; hop++) {
    const refusal = checkHop(url, policy);
    if (refusal) throw new UpstreamError(refusal, "refused");
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: "GET",
        headers: { "user-agent": "hubkeep-mirror", ...headers },
        dispatcher,
        signal: init.signal,
      });
    } catch (err) {
      throw describeNetworkError(err, url, Date.now() - init.startedAt);
    }
    if ([301, 302, 303, 307, 308].includes(res.statusCode)) {
      await res.body.dump().catch(() => {});
      const location = header(res.headers, "location");
      if (init.redirect === "manual") {
        // The caller reads the redirect itself (e.g. which version "latest" points to); no body.
        return {
          url: url.toString(),
          status: res.statusCode,
          headers: flatten(res.headers),
          contentLength: 0,
          body: (async function* () {})(),
          discard: async () => {},
        };
      }
      if (!location) throw new UpstreamError(`upstream answered ${res.statusCode} without a Location`, "bad_response");
      if (hop + 1 > maxRedirects)
        throw new UpstreamError(`too many redirects (more than ${maxRedirects})`, "bad_response");
      const next = new URL(location, url);
      headers = headersForHop(headers, url, next);
      url = next;
      continue;
    }
    if (res.statusCode === 304 && init.notModified) {
      // A conditional request (If-None-Match / If-Modified-Since) the upstream answered "unchanged".
      await res.body.dump().catch(() => {});
      return {
        url: url.toString(),
        status: 304,
        headers: flatten(res.headers),
        contentLength: 0,
        body: (async function* () {})(),
        discard: async () => {},
      };
    }
    if (res.statusCode < 200 || res.statusCode > 299) {
      const text = await res.body.text().catch(() => "");
      const xmlCode = /<Code>([^<]{1,80})<\/Code>/.exec(text)?.[1];
      const status = res.statusCode;
      if (status === 429 || status >= 500)
        throw new UpstreamError(
          `upstream answered ${status} from ${url.host}`,
          status >= 500 ? "unavailable" : "bad_response",
          true,
          status,
        );
      if (status === 404) throw new UpstreamError(`upstream has no such model (404 from ${url.host})`, "bad_response");
      throw new UpstreamError(
        `upstream answered ${status} from ${url.host}${xmlCode ? ` (${xmlCode}: an expired or invalid signed URL)` : ""}`,
        "bad_response",
      );
    }
    const lengthHeader = header(res.headers, "content-length");
    const contentLength = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
    if (contentLength !== null && contentLength > maxBytes) {
      await res.body.dump().catch(() => {});
      throw new UpstreamError(`upstream file is ${contentLength} bytes, above the ${maxBytes}-byte limit`, "too_large");
    }
    const finalUrl = url;
    const body = res.body;
    const guarded = async function* (): AsyncGenerator<Buffer> {
      let seen = 0;
      let first = true;
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          if (first && init.expect === "file") {
            const markup = sniffMarkup(chunk);
            if (markup)
              throw new UpstreamError(`upstream returned ${markup}, not a module (${finalUrl.host})`, "not_a_module");
          }
          first = false;
          seen += chunk.length;
          if (seen > maxBytes) throw new UpstreamError(`upstream file exceeds the ${maxBytes}-byte limit`, "too_large");
          if (contentLength !== null && seen > contentLength)
            throw new UpstreamError(`body longer than Content-Length (${contentLength})`, "bad_response");
          yield chunk;
        }
      } catch (err) {
        if (err instanceof UpstreamError) throw err;
        const e = err as { code?: string; name?: string };
        if (e.code === "UND_ERR_SOCKET" || e.code === "ECONNRESET" || e.name === "SocketError") {
          throw new UpstreamError(
            `body shorter than Content-Length: the connection closed after ${seen} of ${contentLength ?? "?"} bytes`,
            "unavailable",
            true,
          );
        }
        throw describeNetworkError(err, finalUrl, Date.now() - init.startedAt);
      } finally {
        if (!body.destroyed) body.destroy();
      }
      if (contentLength !== null && seen < contentLength) {
        throw new UpstreamError(
          `body shorter than Content-Length: got ${seen} of ${contentLength} bytes`,
          "unavailable",
          true,
        );
      }
    };
    return {
      url: finalUrl.toString(),
      status: res.statusCode,
      headers: flatten(res.headers),
      contentLength,
      body: guarded(),
      discard: async () => void (await body.dump().catch(() => {})),
    };
  }
}

/**
 * Opens an upstream file. Retries (with exponential backoff and jitter) network errors, 429 and
 * 5xx before the body starts; never 4xx or refusals. Body failures surface while reading `body`.
 */
export async function openUpstream(
  input: string,
  policy: FetchPolicy,
  init: {
    headers?: Record<string, string>;
    expect?: "file" | "json";
    /** `manual`: a redirect is returned as the response (status 3xx, `headers.location`), not followed. */
    redirect?: "follow" | "manual";
    /** A conditional request: a 304 is returned as the response (empty body), not an error. */
    notModified?: boolean;
    signal?: AbortSignal;
    dispatcher?: Dispatcher;
  } = {},
): Promise<UpstreamResponse> {
  // Metrics: one outcome and duration per request, when its body ends (or it fails); bytes as they stream.
  const began = performance.now();
  let settled = false;
  const settle = (outcome: UpstreamOutcome) => {
    if (settled) return;
    settled = true;
    recordUpstreamRequest(outcome, (performance.now() - began) / 1000);
  };
  const outcomeOf = (err: unknown): UpstreamOutcome => (err instanceof UpstreamError ? err.kind : "unavailable");
  let res: UpstreamResponse;
  try {
    res = await openUpstreamUnmetered(input, policy, init);
  } catch (err) {
    settle(outcomeOf(err));
    throw err;
  }
  if (res.status >= 300) settle("ok"); // a redirect handed back (redirect: "manual"): no body follows
  const body = res.body;
  return {
    ...res,
    body: (async function* () {
      try {
        for await (const chunk of body) {
          recordUpstreamBytes(chunk.length);
          yield chunk;
        }
        settle("ok");
      } catch (err) {
        settle(outcomeOf(err));
        throw err;
      } finally {
        settle("ok"); // the reader stopped early: the request itself went fine
      }
    })(),
    discard: async () => {
      settle("ok");
      await res.discard();
    },
  };
}

async function openUpstreamUnmetered(
  input: string,
  policy: FetchPolicy,
  init: Parameters<typeof openUpstream>[2] = {},
): Promise<UpstreamResponse> {
  let start: URL;
  try {
    start = new URL(input);
  } catch {
    throw new UpstreamError(`"${input}" is not a URL`, "refused");
  }
  const totalMs = policy.totalTimeoutMs ?? DEFAULTS.totalTimeoutMs;
  const timeout = AbortSignal.timeout(totalMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  const dispatcher = init.dispatcher ?? guardedDispatcher(policy);
  const retries = policy.retries ?? DEFAULTS.retries;
  const backoff = policy.backoffMs ?? DEFAULTS.backoffMs;
  const startedAt = Date.now();
  for (let i = 0; ; i++) {
    try {
      return await attempt(start, policy, dispatcher, {
        headers: init.headers,
        expect: init.expect ?? "file",
        redirect: init.redirect ?? "follow",
        notModified: init.notModified,
        signal,
        startedAt,
      });
    } catch (err) {
      if (!(err instanceof UpstreamError) || !err.retryable || i >= retries || signal.aborted) {
        if (signal.aborted && timeout.aborted && !(err instanceof UpstreamError && err.kind === "refused")) {
          throw new UpstreamError(
            `timed out after ${Math.round(totalMs / 1000)} s fetching ${start.host}`,
            "unavailable",
          );
        }
        throw err;
      }
      const delay = backoff * 2 ** i * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
