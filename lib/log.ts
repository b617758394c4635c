// The one logger (pino): JSON lines on stdout (HUBKEEP_LOG_FORMAT=json, the default when stdout is not
// a terminal) or pino-pretty, synchronously in this thread (pretty, the default on a terminal), at
// HUBKEEP_LOG_LEVEL. Also the per-request context the server entry opens for each request (its
// X-Request-Id and, once someone authenticated it, the principal's id), which the request log line,
// error bodies and error logs read.
//
// What is logged never holds a secret by construction: request lines carry the route template and
// the path without its query, ids instead of tokens. Redaction (header, password, token and secret
// fields) and scrubbing of every written line (query strings of URLs, `hk_` tokens, S3 signature
// parameters) are defence in depth.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import os from "node:os";
import { formatWithOptions } from "node:util";
import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import { getEnv, type LogFormat, type LogLevel } from "./env.ts";

export type { Logger };

/** Fields holding credentials, wherever they appear in a logged object (pino `redact` paths). */
export const REDACT_PATHS = [
  "authorization",
  "cookie",
  "password",
  "token",
  "secret",
  "headers.authorization",
  "headers.cookie",
  'headers["set-cookie"]',
  "*.authorization",
  "*.cookie",
  '*["set-cookie"]',
  "*.password",
  "*.token",
  "*.secret",
  "*.headers.authorization",
  "*.headers.cookie",
  '*.headers["set-cookie"]',
];

/** A path or URL without its query string and fragment: what a log line may say about a URL. */
export function stripQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut < 0 ? url : url.slice(0, cut);
}

// An absolute URL's query (presigned S3 URLs carry X-Amz-Signature/-Credential there), a path's query
// with parameters, S3 signing parameters anywhere else, and API tokens (hk_ + 43 base64url characters).
const URL_QUERY = /\b([a-z][a-z0-9+.-]*:\/\/[^\s"'<>?#\\]*)[?#][^\s"'<>\\]*/gi;
const PATH_QUERY = /(^|[\s"'(=])(\/[^\s"'<>?#\\]*)\?[^\s"'<>\\]*=[^\s"'<>\\]*/g;
const AMZ_PARAM = /\b(X-Amz-(?:Signature|Credential|Security-Token))=[^&\s"'<>\\]*/gi;
const API_TOKEN = /(?<![A-Za-z0-9_-])hk_[A-Za-z0-9_-]{20,}/g;

/** Removes what must never be written from a line: URL queries, S3 signing parameters, API tokens. */
export function scrubSecrets(text: string): string {
  if (!text.includes("?") && !text.includes("#") && !text.includes("X-Amz-") && !text.includes("hk_")) return text;
  return text
    .replace(URL_QUERY, "$1?[query removed]")
    .replace(PATH_QUERY, "$1$2?[query removed]")
    .replace(AMZ_PARAM, "$1=[redacted]")
    .replace(API_TOKEN, "hk_[redacted]");
}

/**
 * Where a logger's lines go: each line pino writes is scrubbed and written at once; request lines
 * (logRequestLine) are queued and written together once per event-loop turn, so a busy server makes
 * one write for many requests instead of one each. A line written directly first writes what is
 * queued, so lines stay in order.
 */
class LineSink implements DestinationStream {
  private pending: string[] = [];
  private scheduled = false;
  constructor(
    private readonly dest: DestinationStream,
    /** Lines are JSON (the request fast path writes them itself); false for pino-pretty. */
    readonly json: boolean,
  ) {}

  write(line: string): void {
    if (this.pending.length) this.flush();
    this.dest.write(scrubSecrets(line));
  }

  queue(line: string): void {
    this.pending.push(line);
    if (this.pending.length >= 512) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushQueued);
    }
  }

  private readonly flushQueued = () => {
    this.scheduled = false;
    this.flush();
  };

  /** Writes the queued lines now (also on process exit for the process's logger). */
  flush(): void {
    if (!this.pending.length) return;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join("");
    this.pending = [];
    this.dest.write(scrubSecrets(text));
  }
}

const SINK = Symbol.for("hubkeep.logSink");
type WithSink = Logger & { [SINK]?: LineSink };

export type LoggerOptions = {
  format: LogFormat;
  level: LogLevel;
  /** Where lines go; default stdout (fd 1), written synchronously. */
  destination?: DestinationStream;
  /** Colours in the pretty format; default: stdout is a terminal. */
  colorize?: boolean;
};

/** A logger with Hubkeep's settings (the process's is getLogger(); tests make their own). */
export function createLogger(opts: LoggerOptions): Logger {
  const out =
    opts.format === "pretty"
      ? pretty({
          sync: true,
          destination: opts.destination ?? 1,
          colorize: opts.colorize ?? Boolean(process.stdout.isTTY),
          translateTime: "SYS:HH:MM:ss.l",
          ignore: "pid,hostname",
        })
      : (opts.destination ?? pino.destination({ fd: 1, sync: true }));
  const sink = new LineSink(out, opts.format === "json");
  const logger: WithSink = pino(
    {
      level: opts.level,
      // Start-up lines keep the `hubkeep: ` prefix operators and tests read (e.g. `hubkeep: ready: `).
      msgPrefix: "hubkeep: ",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    },
    sink,
  );
  logger[SINK] = sink;
  return logger;
}

/** Writes the logger's queued request lines now (tests read them; the process flushes on exit). */
export function flushLog(logger: Logger = getLogger()): void {
  (logger as WithSink)[SINK]?.flush();
}

/** The format when HUBKEEP_LOG_FORMAT is unset: JSON, unless stdout is a terminal. */
export function defaultLogFormat(isTTY = Boolean(process.stdout.isTTY)): LogFormat {
  return isTTY ? "pretty" : "json";
}

// One logger and one request store per process: the Next bundle holds its own copy of this module,
// and must share them with the server entry.
const shared = globalThis as { __hubkeepLogger?: Logger; __hubkeepRequests?: AsyncLocalStorage<RequestContext> };

/** The process's logger, configured from the environment on first use. */
export function getLogger(): Logger {
  if (!shared.__hubkeepLogger) {
    let config: { format: LogFormat | undefined; level: LogLevel } = { format: undefined, level: "info" };
    try {
      config = getEnv().log;
    } catch {
      // A bad environment is reported by the entry point (getEnvOrExit); logging still works.
    }
    const logger = createLogger({ format: config.format ?? defaultLogFormat(), level: config.level });
    shared.__hubkeepLogger = logger;
    process.once("exit", () => flushLog(logger));
  }
  return shared.__hubkeepLogger;
}

/** Replaces the process's logger (tests capture lines this way); undefined goes back to the default. */
export function setLogger(logger: Logger | undefined): void {
  shared.__hubkeepLogger = logger;
}

type ConsoleMethod = "log" | "info" | "debug" | "warn" | "error";
type ConsoleLevel = "info" | "debug" | "warn" | "error";
const CONSOLE_LEVELS: Record<ConsoleMethod, ConsoleLevel> = {
  log: "info",
  info: "info",
  debug: "debug",
  warn: "warn",
  error: "error",
};

/**
 * For the server and worker entries: console output (Next's own lines, libraries') goes through the
 * logger, so that stdout holds only log lines, scrubbed like ours. An Error argument is logged as
 * `err` (message and stack).
 */
export function captureConsole(logger: Logger = getLogger()): void {
  for (const [method, level] of Object.entries(CONSOLE_LEVELS) as Array<[ConsoleMethod, ConsoleLevel]>) {
    console[method] = (...args: unknown[]) => {
      const err = args.find((a): a is Error => a instanceof Error);
      const rest = err ? args.filter((a) => a !== err) : args;
      // Our own console lines already start with the prefix the logger adds.
      const text = rest.length ? formatWithOptions({ colors: false }, ...rest) : (err?.message ?? "");
      const msg = text.startsWith("hubkeep: ") ? text.slice("hubkeep: ".length) : text;
      // Node prints process warnings (`(node:123) Warning: …`) through console.error.
      const as = level === "error" && /^\(node:\d+\) \[?\w*Warning/.test(msg) ? "warn" : level;
      if (err) logger[as]({ err }, msg);
      else logger[as](msg);
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Request context

export const REQUEST_ID_HEADER = "x-request-id";
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: the client's X-Request-Id when it is a sane token, else a new UUID. */
export function decideRequestId(given: string | string[] | undefined): string {
  return typeof given === "string" && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** What the server knows about the request being answered. */
export type RequestContext = { requestId: string; principalId: string | null };

function requests(): AsyncLocalStorage<RequestContext> {
  shared.__hubkeepRequests ??= new AsyncLocalStorage<RequestContext>();
  return shared.__hubkeepRequests;
}

/** Runs `fn` (a request's handling, lib/server/main.ts) with `ctx` as the current request. */
export function runInRequest<T>(ctx: RequestContext, fn: () => T): T {
  return requests().run(ctx, fn);
}

/** The request being answered, when there is one (undefined in jobs, the CLI, tests). */
export function currentRequest(): RequestContext | undefined {
  return requests().getStore();
}

/** Records who the current request authenticated as (a user id; null for anyone else). */
export function setRequestPrincipal(principalId: string | null): void {
  const ctx = currentRequest();
  if (ctx) ctx.principalId = principalId;
}

// ---------------------------------------------------------------------------------------------
// Request lines

/** What the server entry logs about each answered request (lib/server/main.ts). */
export type RequestLine = {
  method: string;
  /** The route template (lib/metrics.ts routeOf), never the raw path. */
  route: string;
  /** The path without its query. */
  path: string;
  status: number;
  durationMs: number;
  bytes: number;
  requestId: string;
  principalId: string | null;
  /** The client went away before the answer was written. */
  aborted: boolean;
};

const PID = process.pid;
let hostJson: string | undefined;

/**
 * Logs one request line: `error` for a 5xx answer, else `info`. In the JSON format the line is
 * serialized here, with the fields pino would write, and queued (LineSink): it is the one log line
 * of every download, and pino's generic path (redaction, serializers) and a write per line cost
 * the download path most of its speed. Other formats go through pino.
 */
export function logRequestLine(r: RequestLine, logger: Logger = getLogger()): void {
  const level = r.status >= 500 ? "error" : "info";
  const msg = `${r.method} ${r.route} ${r.status}`;
  const sink = (logger as WithSink)[SINK];
  if (!sink?.json) {
    const { aborted, ...fields } = r;
    logger[level]({ type: "request", ...fields, ...(aborted ? { aborted: true } : {}) }, msg);
    return;
  }
  if (!logger.isLevelEnabled(level)) return;
  hostJson ??= JSON.stringify(os.hostname());
  sink.queue(
    `{"level":"${level}","time":"${new Date().toISOString()}","pid":${PID},"hostname":${hostJson}` +
      `,"type":"request","method":${JSON.stringify(r.method)},"route":${JSON.stringify(r.route)}` +
      `,"path":${JSON.stringify(r.path)},"status":${r.status},"durationMs":${r.durationMs},"bytes":${r.bytes}` +
      `,"requestId":${JSON.stringify(r.requestId)},"principalId":${r.principalId === null ? "null" : JSON.stringify(r.principalId)}` +
      `${r.aborted ? ',"aborted":true' : ""},"msg":${JSON.stringify(`hubkeep: ${msg}`)}}\n`,
  );
}
