// `npm run worker`: a job worker alone, for production scale-out against PostgreSQL.
import { getEnvOrExit } from "../env.ts";
import { bootDatabase } from "./boot.ts";
import { setQueue, startQueue } from "../jobs/queue.ts";
import { startWorker } from "../jobs/worker.ts";
import { allJobs } from "../jobs/registry.ts";
import { startMetricsServer } from "../metrics.ts";
import { captureConsole, getLogger } from "../log.ts";

const env = getEnvOrExit();
if (!env.databaseUrl) {
  process.stderr.write(
    "hubkeep: npm run worker needs DATABASE_URL (the embedded database runs its worker inside npm start)\n",
  );
  process.exit(1);
}
// Logs are JSON lines on stdout (lib/log.ts), libraries' console lines included.
captureConsole();
const log = (msg: string) => getLogger().info(msg);
const booted = await bootDatabase(env, { holder: "hubkeep worker", log }).catch((err: Error) => {
  getLogger().fatal(`cannot start worker: ${err.message}`);
  process.stderr.write(`hubkeep: cannot start worker: ${err.message}\n`);
  process.exit(1);
});
const queue = await startQueue(booted.db, { supervise: false });
setQueue(queue);
const jobs = allJobs();
const worker = await startWorker(queue, jobs);
log(
  `worker running (${jobs.length} job kinds) on ${booted.db.describe}${booted.applied.length ? ` (applied ${booted.applied.join(", ")})` : ""}`,
);

// Its own metrics (job durations, the queue readings) on HUBKEEP_METRICS_PORT, when set.
const metricsServer = env.metrics.port
  ? await startMetricsServer({ port: env.metrics.port, host: env.host, token: env.metrics.token }).catch(
      (err: Error) => {
        getLogger().fatal(`cannot serve metrics on port ${env.metrics.port}: ${err.message}`);
        process.stderr.write(`hubkeep: cannot serve metrics on port ${env.metrics.port}: ${err.message}\n`);
        process.exit(1);
      },
    )
  : null;
if (metricsServer) log(`metrics: http://${env.host}:${env.metrics.port}/metrics`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: finishing in-flight jobs`);
  metricsServer?.close();
  await worker.stop();
  await queue.stop({ graceful: true, timeoutMs: 30_000 });
  await booted.db.close();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
