// `npm start`: the whole product in one process. Parses the environment, listens at once (answering
// 503 `starting` until ready), opens and migrates the database, checks the blob store, creates the
// bootstrap admin, starts the job worker (in-process: PGlite is single-process), shares the embedded
// database with local processes, and serves the built Next.js app. Any start-up failure prints what
// was tried and exits non-zero. SIGTERM drains: readiness goes 503, no new connections, in-flight
// requests finish (at most HUBKEEP_SHUTDOWN_GRACE_SECONDS), then exit 0.
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getEnvOrExit } from "../env.ts";
import { bootDatabase, type Booted } from "./boot.ts";
import { ensureBootstrapAdmin } from "../models/users.ts";
import { formatRule } from "../upstream/allowlist.ts";
import { seedAllowlistOnce } from "../models/allowlist.ts";
import { setQueue, startQueue, type Queue } from "../jobs/queue.ts";
import { startWorker, type Worker } from "../jobs/worker.ts";
import { allJobs } from "../jobs/registry.ts";
import { handleDownload } from "../hub/handler.ts";
import { flushDownloads } from "../models/downloads.ts";
import { PEER_HEADER } from "../http/authenticate.ts";
import { authSecret } from "../auth/secret.ts";
import { checkReadiness, getReadiness, setReadiness } from "../health.ts";
import { shareEmbeddedDatabase, type SharedDatabase } from "../db/pglite-socket.ts";
import { recordSharedSocket } from "./data-dir-lock.ts";
import { answerMetrics, recordRequest, routeOf } from "../metrics.ts";
import { AppError, errorBody } from "../errors.ts";
import {
  captureConsole,
  decideRequestId,
  getLogger,
  logRequestLine,
  REQUEST_ID_HEADER,
  runInRequest,
  type RequestContext,
} from "../log.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function fail(msg: string): never {
  getLogger().fatal(`cannot start: ${msg}`);
  process.stderr.write(`hubkeep: cannot start: ${msg}\n`);
  process.exit(1);
}

const env = getEnvOrExit();
// Logs are JSON lines on stdout (lib/log.ts); Next's own console lines go through the logger too.
captureConsole();
const log = (msg: string) => getLogger().info(msg);
setReadiness("starting");

// Everything start-up opens, so that a SIGTERM at any point closes what exists.
let booted: Booted | undefined;
let queue: Queue | undefined;
let worker: Worker | null = null;
let sharedDb: SharedDatabase | undefined;
let appHandler: ((req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>) | undefined;

const inflight = new Set<http.ServerResponse>();
let drained: (() => void) | undefined;

function sendJson(res: http.ServerResponse, status: number, body: unknown) {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": buf.length,
    "cache-control": "no-store",
    ...(status === 503 ? { "retry-after": "1" } : {}),
  });
  res.end(buf);
}

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  setReadiness("draining");
  const graceMs = env.shutdownGraceMs;
  const deadline = Date.now() + graceMs;
  log(`${signal}: draining (${inflight.size} request(s) in flight; at most ${Math.round(graceMs / 1000)} s)`);
  const force = setTimeout(() => {
    getLogger().error("shutdown did not finish in time; exiting");
    process.exit(1);
  }, graceMs + 20_000);
  force.unref();
  // No new connections; idle keep-alive connections close now, busy ones after their answer.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const httpDone = (async () => {
    if (inflight.size > 0) {
      await new Promise<void>((resolve) => {
        drained = resolve;
        const timer = setTimeout(resolve, graceMs);
        timer.unref();
      });
    }
    if (inflight.size > 0)
      log(`${inflight.size} request(s) still in flight after ${Math.round(graceMs / 1000)} s: closing them`);
    server.closeAllConnections();
    await closed;
  })();
  const jobsDone = (async () => {
    await worker?.stop().catch(() => {});
    await queue?.stop({ graceful: true, timeoutMs: Math.max(1000, deadline - Date.now()) }).catch(() => {});
  })();
  await Promise.all([httpDone, jobsDone]);
  await flushDownloads().catch((err: Error) => log(`download counters not saved: ${err.message}`));
  await sharedDb?.close().catch(() => {});
  await booted?.db.close().catch(() => {});
  booted?.release();
  log(`${signal}: stopped`);
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

/** Counts the body bytes written to a response (HEAD and 304 answers send none). */
function countBodyBytes(res: http.ServerResponse): () => number {
  let n = 0;
  const add = (chunk: unknown, encoding: unknown) => {
    if (typeof chunk === "string")
      n += Buffer.byteLength(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
    else if (chunk instanceof Uint8Array) n += chunk.byteLength;
  };
  const write = res.write.bind(res);
  const end = res.end.bind(res);
  res.write = ((...args: Parameters<typeof write>) => {
    add(args[0], args[1]);
    return write(...args);
  }) as typeof res.write;
  res.end = ((...args: Parameters<typeof end>) => {
    add(args[0], args[1]);
    return end(...args);
  }) as typeof res.end;
  return () => (res.req.method === "HEAD" || res.statusCode === 304 ? 0 : n);
}

const server = http.createServer((req, res) => {
  const started = performance.now();
  const pathname = (req.url ?? "/").split("?")[0]!;
  // One id per request, decided here: the client's X-Request-Id when it is a sane token, else a new
  // one. It is answered on every response; route handlers inside Next read it from the request's
  // headers (rewritten here), the rest of this process from the request context (lib/log.ts).
  const ctx: RequestContext = { requestId: decideRequestId(req.headers[REQUEST_ID_HEADER]), principalId: null };
  req.headers[REQUEST_ID_HEADER] = ctx.requestId;
  res.setHeader(REQUEST_ID_HEADER, ctx.requestId);
  const bytes = countBodyBytes(res);
  inflight.add(res);
  res.once("close", () => {
    const ms = performance.now() - started;
    const route = routeOf(res, pathname);
    recordRequest(route, req.method ?? "GET", res.statusCode, ms / 1000);
    logRequestLine({
      method: req.method ?? "GET",
      route,
      path: pathname.length > 1024 ? pathname.slice(0, 1024) : pathname,
      status: res.statusCode,
      durationMs: Math.round(ms * 10) / 10,
      bytes: bytes(),
      requestId: ctx.requestId,
      principalId: ctx.principalId,
      aborted: !res.writableFinished,
    });
    inflight.delete(res);
    if (getReadiness() === "draining") {
      server.closeIdleConnections();
      if (inflight.size === 0) drained?.();
    }
  });
  // A draining server answers what it is asked, and closes each connection after its answer.
  if (getReadiness() === "draining") res.setHeader("connection", "close");
  // The audit log's caller address comes from the socket, never from a client-supplied header.
  req.headers[PEER_HEADER] = req.socket.remoteAddress ?? "";
  // Next's internal headers are never legitimate from a client (there is no middleware here to send
  // them); `x-middleware-prefetch` would otherwise make Next answer `{}` without running the route.
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith("x-middleware-") || name.startsWith("x-invoke-")) delete req.headers[name];
  }
  answer(req, res, pathname, ctx);
});

function answer(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, ctx: RequestContext) {
  if (pathname === "/metrics") {
    void answerMetrics(req, res, env.metrics.token);
    return;
  }
  if (pathname === "/readyz") {
    void checkReadiness().then(({ ready, report }) => sendJson(res, ready ? 200 : 503, report));
    return;
  }
  const app = appHandler;
  if (!app) {
    const starting = new AppError("service_unavailable", "hubkeep is starting; retry shortly");
    sendJson(res, 503, errorBody(starting, ctx.requestId));
    return;
  }
  // Downloads (hub protocol, blobs) stream straight from the store, with the request context passed
  // along; everything else is the web app, run inside the context (lib/log.ts runInRequest), which
  // the hub path does without: AsyncLocalStorage.run costs every download.
  handleDownload(req, res, ctx)
    .then((done) => (done ? undefined : runInRequest(ctx, () => app(req, res))))
    .catch((err: Error) => {
      getLogger().error({ err, requestId: ctx.requestId }, "request failed");
      if (!res.headersSent)
        sendJson(res, 500, errorBody(new AppError("internal_error", "internal error"), ctx.requestId));
      else res.end();
    });
}
server.on("error", (err) => fail(`cannot listen on ${env.host}:${env.port}: ${err.message}`));
await new Promise<void>((resolve) => server.listen(env.port, env.host, resolve));

booted = await bootDatabase(env, { holder: "hubkeep server", log }).catch((err: Error) => fail(err.message));
log(`database: ${booted.db.describe}${booted.applied.length ? ` (applied ${booted.applied.join(", ")})` : ""}`);
log(`blob store: ${env.blobStoreUrl}`);

// The sign-in secret: configured, or generated once and kept in the data dir.
try {
  authSecret();
} catch (err) {
  fail(`sign-in secret: ${(err as Error).message}`);
}
log(
  `sign-in: local accounts${env.oidc ? ` and single sign-on (${env.oidc.issuer})` : ""}; secret ${env.authSecret ? "from AUTH_SECRET" : "kept in the data dir"}`,
);
const admin = await ensureBootstrapAdmin({ email: env.adminEmail, password: env.adminPassword });
const seeded = await seedAllowlistOnce(env.allowlist);
if (seeded.length) log(`allowlist seeded from HUBKEEP_ALLOWLIST: ${seeded.map(formatRule).join(", ")}`);

queue = await startQueue(booted.db).catch((err: Error) => fail(`job queue: ${err.message}`));
setQueue(queue);
worker = env.inProcessWorker ? await startWorker(queue, allJobs()) : null;
if (worker) log("job worker: running in this process");

// The CLI and other local processes reach the embedded database through this socket while we run.
if (booted.db.kind === "pglite") {
  try {
    sharedDb = await shareEmbeddedDatabase(booted.db.pglite!, env.dataDir, { log });
    recordSharedSocket(env.dataDir, sharedDb.path);
    log(`embedded database shared with local processes on ${sharedDb.path} (mode 0600)`);
  } catch (err) {
    log(`embedded database NOT shared (CLI commands need the server stopped): ${(err as Error).message}`);
  }
}

const { default: next } = await import("next");
const app = next({ dev: false, dir: root, hostname: env.host, port: env.port });
await app
  .prepare()
  .catch((err: Error) => fail(`the web app is not built (${err.message}); run npm start, which builds it`));
appHandler = app.getRequestHandler();
if (getReadiness() === "starting") setReadiness("ready");
log(`ready: ${env.publicUrl}  (health: ${env.publicUrl}/healthz, readiness: ${env.publicUrl}/readyz)`);
if (admin) {
  log(`bootstrap admin: ${admin.email}`);
  // The generated password is for the operator, printed this once (on stderr when HUBKEEP_LOG_LEVEL
  // hides info lines). One set by HUBKEEP_ADMIN_PASSWORD is never printed.
  if (admin.generatedPassword) {
    const notice = `bootstrap admin password (shown once): ${admin.generatedPassword}`;
    if (getLogger().isLevelEnabled("info")) getLogger().info({ bootstrapAdmin: admin.email }, notice);
    else process.stderr.write(`hubkeep: ${notice}\n`);
  }
}
