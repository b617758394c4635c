// Sends one webhook attempt: a POST of the signed JSON body, answered within 10 s or counted as no
// answer. Redirects are not followed (a 3xx is a failed attempt), and at most 64 KiB of the
// response body is read, then the rest is dropped with the connection. Every address is checked
// where it is decided (the DNS lookup, and the connect hook for IP literals) by target-url.ts's
// rule, so a host name that resolves to the metadata address is refused before a packet is sent.
import type dns from "node:dns";
import net from "node:net";
import { Agent, buildConnector, request, type Dispatcher } from "undici";
import { refusedAddressReason, systemResolver, type Resolver } from "./target-url.ts";

/** No answer (status line and headers) within this long is a failed attempt. */
export const SEND_TIMEOUT_MS = 10_000;
/** The most of a response body a delivery reads before it drops the rest. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export type SendResult = {
  /** The receiver's status, when it answered. */
  statusCode: number | null;
  /** Why the attempt failed without a usable answer (or what a 3xx asked for); null on a 2xx. */
  error: string | null;
  startedAt: Date;
  endedAt: Date;
  durationMs: number;
  /** Response body bytes read (at most MAX_RESPONSE_BYTES). */
  responseBytes: number;
};

class RefusedTarget extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RefusedTarget";
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/**
 * A dispatcher for webhook deliveries whose lookup and connect refuse addresses target-url.ts
 * refuses. `resolve` stands in for DNS (tests map a name to an address without a DNS server).
 */
export function createWebhookDispatcher(opts: { resolve?: Resolver; timeoutMs?: number } = {}): Dispatcher {
  const resolve = opts.resolve ?? systemResolver;
  const timeout = opts.timeoutMs ?? SEND_TIMEOUT_MS;
  const lookup = (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0)
          return callback(Object.assign(new Error(`cannot resolve ${hostname}`), { code: "ENOTFOUND" }), []);
        for (const a of addresses) {
          const why = refusedAddressReason(a.address);
          if (why) return callback(new RefusedTarget(`${hostname} resolved to ${a.address}: ${why}`), []);
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, []),
    );
  };
  const base = buildConnector({ timeout, lookup });
  return new Agent({
    headersTimeout: timeout,
    bodyTimeout: timeout,
    connect(options, callback) {
      const host = options.hostname.replace(/^\[|\]$/g, "");
      if (net.isIP(host)) {
        // IP literals skip DNS: decide here, before any packet is sent.
        const why = refusedAddressReason(host);
        if (why) return callback(new RefusedTarget(why), null);
      }
      base(options, callback);
    },
  });
}

let shared: Dispatcher | undefined;

function describeFailure(err: unknown, url: URL, timeoutMs: number, timedOut: boolean): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: unknown };
  const inner = (e.cause ?? e) as { name?: string; code?: string; message?: string };
  if (e.name === "RefusedTarget" || inner.name === "RefusedTarget") return `refused: ${inner.message ?? e.message}`;
  const code = inner.code ?? e.code;
  if (
    timedOut ||
    e.name === "TimeoutError" ||
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_CONNECT_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT"
  )
    return `no answer within ${timeoutMs / 1000} s`;
  if (code === "ECONNREFUSED") return `${url.host} refused the connection`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `cannot resolve ${url.hostname}`;
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") return `${url.host} closed the connection`;
  return `${inner.message ?? e.message ?? String(err)}${code ? ` (${code})` : ""}`;
}

/**
 * One attempt. Never throws for the receiver's failures (they are in the result); throws only when
 * `signal` aborts (the worker is stopping), so the caller can put the attempt back.
 */
export async function sendWebhook(input: {
  url: string;
  body: string;
  headers: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
  dispatcher?: Dispatcher;
}): Promise<SendResult> {
  const timeoutMs = input.timeoutMs ?? SEND_TIMEOUT_MS;
  const dispatcher = input.dispatcher ?? (shared ??= createWebhookDispatcher());
  const url = new URL(input.url);
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = input.signal ? AbortSignal.any([deadline, input.signal]) : deadline;
  const startedAt = new Date();
  const began = performance.now();
  const finish = (statusCode: number | null, error: string | null, responseBytes = 0): SendResult => ({
    statusCode,
    error,
    startedAt,
    endedAt: new Date(),
    durationMs: Math.round(performance.now() - began),
    responseBytes,
  });
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      method: "POST",
      dispatcher,
      signal,
      headers: {
        ...input.headers,
        "content-type": "application/json",
        "user-agent": "Hubkeep-Webhooks/1",
      },
      body: input.body,
    });
  } catch (err) {
    if (input.signal?.aborted) throw input.signal.reason;
    return finish(null, describeFailure(err, url, timeoutMs, deadline.aborted));
  }
  // Read at most MAX_RESPONSE_BYTES of the body (within the same deadline), then drop the rest.
  let read = 0;
  try {
    for await (const chunk of res.body) {
      read += (chunk as Buffer).length;
      if (read >= MAX_RESPONSE_BYTES) break;
    }
  } catch {
    // A body cut short changes nothing: the status line was the answer.
  } finally {
    if (!res.body.destroyed) res.body.destroy();
  }
  if (input.signal?.aborted) throw input.signal.reason;
  const status = res.statusCode;
  const redirect =
    status >= 300 && status < 400
      ? `redirects are not followed${res.headers.location ? ` (Location: ${String(res.headers.location).slice(0, 200)})` : ""}`
      : null;
  return finish(status, redirect, Math.min(read, MAX_RESPONSE_BYTES));
}
