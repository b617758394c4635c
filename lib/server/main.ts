// `npm start`: the whole product in one process. Parses the environment, opens and migrates the
// database, checks the blob store, creates the bootstrap admin, starts the job worker (in-process:
// PGlite is single-process) and serves the built Next.js app. Any start-up failure prints what was
// tried and exits non-zero.
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getEnvOrExit } from "../env.ts";
import { bootDatabase } from "./boot.ts";
import { ensureBootstrapAdmin } from "../models/users.ts";
import { formatRule, seedAllowlistOnce } from "../upstream/allowlist.ts";
import { setQueue, startQueue } from "../jobs/queue.ts";
import { startWorker } from "../jobs/worker.ts";
import { allJobs } from "../jobs/registry.ts";
import { handleDownload } from "../serving/handler.ts";
import { flushDownloads } from "../serving/downloads.ts";
import { PEER_HEADER } from "../http/authenticate.ts";
import { authSecret } from "../auth/secret.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function fail(msg: string): never {
  process.stderr.write(`hubkeep: cannot start: ${msg}\n`);
  process.exit(1);
}

const env = getEnvOrExit();
const log = (msg: string) => process.stdout.write(`hubkeep: ${msg}\n`);

const booted = await bootDatabase(env, { holder: "hubkeep server" }).catch((err: Error) => fail(err.message));
log(`database: ${booted.db.describe}${booted.applied.length ? ` (applied ${booted.applied.join(", ")})` : ""}`);
log(`blob store: ${env.blobStoreUrl}`);

// The sign-in secret: configured, or generated once and kept in the data dir.
try {
  authSecret();
} catch (err) {
  fail(`sign-in secret: ${(err as Error).message}`);
}
log(`sign-in: local accounts${env.oidc ? ` and single sign-on (${env.oidc.issuer})` : ""}; secret ${env.authSecret ? "from AUTH_SECRET" : "kept in the data dir"}`);
const admin = await ensureBootstrapAdmin({ email: env.adminEmail, password: env.adminPassword });
const seeded = await seedAllowlistOnce(env.allowlist);
if (seeded.length) log(`allowlist seeded from HUBKEEP_ALLOWLIST: ${seeded.map(formatRule).join(", ")}`);

const queue = await startQueue(booted.db).catch((err: Error) => fail(`job queue: ${err.message}`));
setQueue(queue);
const worker = env.inProcessWorker ? await startWorker(queue, allJobs()) : null;
if (worker) log("job worker: running in this process");

const { default: next } = await import("next");
const app = next({ dev: false, dir: root, hostname: env.host, port: env.port });
await app.prepare().catch((err: Error) => fail(`the web app is not built (${err.message}); run npm start, which builds it`));
const handle = app.getRequestHandler();
const server = http.createServer((req, res) => {
  // The audit log's caller address comes from the socket, never from a client-supplied header.
  req.headers[PEER_HEADER] = req.socket.remoteAddress ?? "";
  // Next's internal headers are never legitimate from a client (there is no middleware here to send
  // them); `x-middleware-prefetch` would otherwise make Next answer `{}` without running the route.
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith("x-middleware-") || name.startsWith("x-invoke-")) delete req.headers[name];
  }
  // Downloads (hub protocol, blobs) stream straight from the store; everything else is the web app.
  handleDownload(req, res)
    .then((done) => (done ? undefined : handle(req, res)))
    .catch((err: Error) => {
      console.error("hubkeep: request failed:", err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
});
server.on("error", (err) => fail(`cannot listen on ${env.host}:${env.port}: ${err.message}`));
server.listen(env.port, env.host, () => {
  log(`ready: ${env.publicUrl}  (health: ${env.publicUrl}/healthz)`);
  if (admin) {
    log(`bootstrap admin: ${admin.email}`);
    if (admin.generatedPassword) log(`bootstrap admin password (shown once): ${admin.generatedPassword}`);
  }
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: shutting down`);
  const force = setTimeout(() => process.exit(1), 30_000);
  force.unref();
  server.close();
  server.closeAllConnections?.();
  await worker?.stop().catch(() => {});
  await flushDownloads().catch((err: Error) => log(`download counters not saved: ${err.message}`));
  await queue.stop({ graceful: true, timeoutMs: 20_000 }).catch(() => {});
  await booted.db.close().catch(() => {});
  booted.release();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
