// Prometheus metrics (GET /metrics): one registry per process, the contract's metric names, and
// label values that are route templates and formats, never raw paths, handles or tokens. Counting
// on the request path uses label children bound once (no label objects per request); readings only
// the database knows are taken when Prometheus scrapes (lib/models/operations.ts).
import { timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import client from "prom-client";
import { MODEL_FORMATS, type ModelFormat } from "./formats/format.ts";
import { splitHandleAndVersion } from "./handle-path.ts";
import { PROJECT_DIR } from "./hub/reserved-segments.ts";
import { modelPathTemplate, parseModelPath } from "./http/model-path.ts";
import {
  countPendingWebhookDeliveries,
  countVersionsByStatus,
  readQueueDepths,
  readStorageByNamespace,
} from "./models/operations.ts";

const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const VERSION = (JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as { version: string })
  .version;
new client.Gauge({
  name: "hubkeep_build_info",
  help: "Hubkeep's version (value 1).",
  labelNames: ["version"],
  registers: [registry],
})
  .labels(VERSION)
  .set(1);

const httpRequests = new client.Counter({
  name: "hubkeep_http_requests_total",
  help: "HTTP requests answered, by route template, method and status.",
  labelNames: ["route", "method", "status"],
  registers: [registry],
});
const httpDuration = new client.Histogram({
  name: "hubkeep_http_request_duration_seconds",
  help: "Time from a request's arrival to the end of its response, by route template and method.",
  labelNames: ["route", "method"],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});
const downloads = new client.Counter({
  name: "hubkeep_downloads_total",
  help: "Downloads started (whole files and first ranges), by model format (`blob` for a blob by digest).",
  labelNames: ["format"],
  registers: [registry],
});
const servedBytes = new client.Counter({
  name: "hubkeep_served_bytes_total",
  help: "Bytes answered to downloads (streamed, or sent by S3 after a redirect), by model format.",
  labelNames: ["format"],
  registers: [registry],
});
new client.Gauge({
  name: "hubkeep_versions",
  help: "Versions by status (global, read from the database at scrape time).",
  labelNames: ["status"],
  registers: [registry],
  async collect() {
    for (const [status, n] of Object.entries(await countVersionsByStatus())) this.labels(status).set(n);
  },
});
new client.Gauge({
  name: "hubkeep_jobs_queue_depth",
  help: "Jobs waiting to run, by queue (global, read from pg-boss's tables at scrape time).",
  labelNames: ["queue"],
  registers: [registry],
  async collect() {
    const readings = await readQueueDepths();
    for (const r of readings) {
      this.labels(r.queue).set(r.depth);
      queueAge.labels(r.queue).set(r.oldestAgeSeconds);
    }
  },
});
const queueAge = new client.Gauge({
  name: "hubkeep_jobs_oldest_age_seconds",
  help: "Age of the oldest job waiting to run, by queue (0 when none waits).",
  labelNames: ["queue"],
  registers: [registry],
});
// One storage reading serves both gauges of a scrape (prom-client collects them concurrently).
let storageReading: { at: number; value: ReturnType<typeof readStorageByNamespace> } | null = null;
function readStorageOnce() {
  if (!storageReading || performance.now() - storageReading.at > 1000)
    storageReading = { at: performance.now(), value: readStorageByNamespace() };
  return storageReading.value;
}
new client.Gauge({
  name: "hubkeep_storage_bytes",
  help: "Bytes of the blobs of versions not deleted, by namespace: a quota's pattern, else the handle's first segment (a blob counts once per namespace).",
  labelNames: ["namespace"],
  registers: [registry],
  async collect() {
    const readings = await readStorageOnce();
    this.reset();
    for (const r of readings) this.labels(r.namespace).set(r.usedBytes);
  },
});
new client.Gauge({
  name: "hubkeep_quota_bytes",
  help: "Each quota's limit in bytes, by its namespace pattern.",
  labelNames: ["namespace"],
  registers: [registry],
  async collect() {
    const readings = await readStorageOnce();
    this.reset();
    for (const r of readings) if (r.maxBytes !== null) this.labels(r.namespace).set(r.maxBytes);
  },
});
new client.Gauge({
  name: "hubkeep_webhook_pending",
  help: "Webhook deliveries waiting for their next attempt (global, read from the database).",
  registers: [registry],
  async collect() {
    this.set(await countPendingWebhookDeliveries());
  },
});

// ---------------------------------------------------------------------------------------------
// Work counters: each label's values are a closed set, bound once and exported from 0, so that
// rate() and alerts see a series before the first event.

function zeroed<C extends { inc(n?: number): void }>(child: C): C {
  child.inc(0);
  return child;
}

/** Outcomes of one upstream request: `ok`, or the UpstreamError kind it failed with. */
export const UPSTREAM_OUTCOMES = ["ok", "unavailable", "bad_response", "refused", "not_a_module", "too_large"] as const;
export type UpstreamOutcome = (typeof UPSTREAM_OUTCOMES)[number];
const upstreamRequests = new client.Counter({
  name: "hubkeep_upstream_requests_total",
  help: "Requests to the upstream (after redirects and retries), by outcome: ok, or how it failed.",
  labelNames: ["outcome"],
  registers: [registry],
});
const boundUpstream = new Map(UPSTREAM_OUTCOMES.map((o) => [o, zeroed(upstreamRequests.labels(o))]));
const upstreamBytes = new client.Counter({
  name: "hubkeep_upstream_fetched_bytes_total",
  help: "Body bytes read from the upstream.",
  registers: [registry],
});
const upstreamDuration = new client.Histogram({
  name: "hubkeep_upstream_fetch_duration_seconds",
  help: "Time from an upstream request's start to the end of its body (or its failure).",
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600],
  registers: [registry],
});

/** Counts one upstream request's outcome and its duration in seconds. */
export function recordUpstreamRequest(outcome: UpstreamOutcome, seconds: number): void {
  boundUpstream.get(outcome)!.inc();
  upstreamDuration.observe(seconds);
}

/** Counts body bytes read from the upstream. */
export function recordUpstreamBytes(bytes: number): void {
  upstreamBytes.inc(bytes);
}

/** How a mirror request was answered: a new fetch, joined a running one, already mirrored, or refused. */
export const MIRROR_OUTCOMES = ["created", "joined", "existing", "refused"] as const;
export type MirrorOutcome = (typeof MIRROR_OUTCOMES)[number];
const mirrorRequests = new client.Counter({
  name: "hubkeep_mirror_requests_total",
  help: "Mirror requests by outcome: created (a new fetch), joined (a running fetch), existing (already mirrored), refused.",
  labelNames: ["outcome"],
  registers: [registry],
});
const boundMirror = new Map(MIRROR_OUTCOMES.map((o) => [o, zeroed(mirrorRequests.labels(o))]));

export function recordMirrorRequest(outcome: MirrorOutcome): void {
  boundMirror.get(outcome)!.inc();
}

export const JOB_OUTCOMES = ["completed", "failed", "retried", "skipped"] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];
const jobDuration = new client.Histogram({
  name: "hubkeep_job_duration_seconds",
  help: "Time a job ran in this process, by queue and outcome.",
  labelNames: ["queue", "outcome"],
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600],
  registers: [registry],
});

export function recordJob(queue: string, outcome: JobOutcome, seconds: number): void {
  jobDuration.labels(queue, outcome).observe(seconds);
}

export const VALIDATION_OUTCOMES = ["validated", "failed", "quarantined", "error"] as const;
export type ValidationOutcome = (typeof VALIDATION_OUTCOMES)[number];
const validationRuns = new client.Counter({
  name: "hubkeep_validation_runs_total",
  help: "Validation runs finished, by model format, the level reached (static, executed) and outcome.",
  labelNames: ["format", "level", "outcome"],
  registers: [registry],
});

export function recordValidationRun(format: string, level: string, outcome: ValidationOutcome): void {
  validationRuns.labels(format, level, outcome).inc();
}

export const WEBHOOK_OUTCOMES = ["delivered", "retried", "failed", "disabled"] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];
const webhookDeliveries = new client.Counter({
  name: "hubkeep_webhook_deliveries_total",
  help: "Webhook delivery attempts by outcome: delivered (2xx), retried (another attempt scheduled), failed (given up), disabled (410).",
  labelNames: ["outcome"],
  registers: [registry],
});
const boundWebhook = new Map(WEBHOOK_OUTCOMES.map((o) => [o, zeroed(webhookDeliveries.labels(o))]));

export function recordWebhookDelivery(outcome: WebhookOutcome): void {
  boundWebhook.get(outcome)!.inc();
}

/** What a download is counted under: a model format, or `blob` for GET /api/v1/blobs/{digest}. */
export type DownloadKind = ModelFormat | "blob";
const DOWNLOAD_KINDS: DownloadKind[] = [...MODEL_FORMATS, "blob"];
const boundDownloads = new Map(
  DOWNLOAD_KINDS.map((k) => [k, { count: downloads.labels(k), bytes: servedBytes.labels(k) }]),
);

/** Counts one download (a whole file, or the first range of one). */
export function recordDownload(kind: DownloadKind): void {
  boundDownloads.get(kind)!.count.inc();
}

/** Counts bytes answered to a download (the body's length, or the object's for an S3 redirect). */
export function recordServedBytes(kind: DownloadKind, bytes: number): void {
  if (bytes > 0) boundDownloads.get(kind)!.bytes.inc(bytes);
}

type Bound = { requests: ReturnType<typeof httpRequests.labels>; duration: ReturnType<typeof httpDuration.labels> };
// route -> method -> status -> children, so a repeated request allocates nothing.
const boundHttp = new Map<string, Map<string, Map<number, Bound>>>();
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** Records one answered request: its route template (routeTemplate), method, status and seconds. */
export function recordRequest(route: string, method: string, status: number, seconds: number): void {
  const m = METHODS.has(method) ? method : "OTHER";
  let byMethod = boundHttp.get(route);
  if (!byMethod) boundHttp.set(route, (byMethod = new Map()));
  let byStatus = byMethod.get(m);
  if (!byStatus) byMethod.set(m, (byStatus = new Map()));
  let bound = byStatus.get(status);
  if (!bound) {
    bound = { requests: httpRequests.labels(route, m, String(status)), duration: httpDuration.labels(route, m) };
    byStatus.set(status, bound);
  }
  bound.requests.inc();
  bound.duration.observe(seconds);
}

// ---------------------------------------------------------------------------------------------
// Route templates: the app/ tree matched as Next matches it (a literal folder, else `[x]` as `{x}`,
// `[...x]` taking the rest), refined for the two catch-alls whose shape matters: the model API
// (`/api/v1/models/{handle}/versions/{n}/…`) and the model page / hub download (`/{handle}/{n}/…`).
// Paths outside the tree collapse to a few fixed names, so the series count is bounded by the code.

type RouteNode = { literal: Map<string, RouteNode>; param?: { name: string; node: RouteNode }; rest?: string };

function readRouteTree(dir: string): RouteNode {
  const node: RouteNode = { literal: new Map() };
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith("_")) continue;
    const child = path.join(dir, e.name);
    const rest = /^\[\.\.\.(\w+)\]$/.exec(e.name);
    const param = /^\[(\w+)\]$/.exec(e.name);
    if (rest) node.rest = rest[1];
    else if (param) node.param = { name: param[1]!, node: readRouteTree(child) };
    else if (e.name.startsWith("(")) {
      const group = readRouteTree(child);
      for (const [k, v] of group.literal) node.literal.set(k, v);
    } else node.literal.set(e.name, readRouteTree(child));
  }
  return node;
}

let routeTree: RouteNode | undefined;
/** Routes the Node server answers itself, before Next. */
const SERVER_ROUTES = new Set(["/readyz", "/metrics"]);

const ROUTE = Symbol("hubkeep.route");
type Routed = { [ROUTE]?: string };

/** Names the route template of a response whose handler already parsed its path (the hub). */
export function setRoute(res: http.ServerResponse, template: string): void {
  (res as Routed)[ROUTE] = template;
}

/** The template a handler named (setRoute), else the one routeTemplate reads from the path. */
export function routeOf(res: http.ServerResponse, pathname: string): string {
  return (res as Routed)[ROUTE] ?? routeTemplate(pathname);
}

/** The route template of a request path (no query): what the `route` label says. */
export function routeTemplate(pathname: string): string {
  if (SERVER_ROUTES.has(pathname)) return pathname;
  const segs = pathname.split("/").filter((s) => s !== "");
  if (segs.length === 0) return "/";
  if (segs[0] === "_next") return "/_next/{asset}";
  if (segs[0] === "api" && segs[1] === "v1" && segs[2] === "blobs") return "/api/v1/blobs/{digest}";
  routeTree ??= readRouteTree(path.join(PROJECT_DIR, "app"));
  let node = routeTree;
  const out: string[] = [];
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const lit = node.literal.get(seg);
    if (lit) {
      out.push(seg);
      node = lit;
    } else if (node.param) {
      out.push(`{${node.param.name}}`);
      node = node.param.node;
    } else if (node.rest) {
      return refineCatchAll(out, segs.slice(i), node.rest);
    } else {
      return out.length ? `/${out.join("/")}/{unknown}` : "/{unknown}";
    }
  }
  return `/${out.join("/")}`;
}

function refineCatchAll(prefix: string[], rest: string[], name: string): string {
  const base = prefix.length ? `/${prefix.join("/")}` : "";
  if (base === "/api/v1/models") {
    try {
      return modelPathTemplate(parseModelPath(rest));
    } catch {
      return "/api/v1/models/{invalid}";
    }
  }
  if (base === "") {
    // The model page, or a hub download of the same path: `/{handle}[/{n}][/{file}]`.
    const last = rest[rest.length - 1]!;
    const file = rest.length >= 3 && /\.(json|bin)$|shard/.test(last);
    const parsed = splitHandleAndVersion(file ? rest.slice(0, -1) : rest);
    if (!parsed) return "/{unknown}";
    return `/{handle}${parsed.version === null ? "" : "/{n}"}${file ? "/{file}" : ""}`;
  }
  return `${base}/{${name}}`;
}

/** Every metric this process exposes: name, type and label names (the dashboard test checks against it). */
export function metricDefinitions(): Array<{ name: string; type: string; labelNames: string[] }> {
  return registry.getMetricsAsArray().map((m) => {
    const meta = m as unknown as { name: string; labelNames?: string[]; constructor: { name: string } };
    return { name: meta.name, type: meta.constructor.name.toLowerCase(), labelNames: [...(meta.labelNames ?? [])] };
  });
}

/** The Prometheus text of this process's metrics. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? "");
  const want = Buffer.from(`Bearer ${token}`);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * Answers GET /metrics: open unless `token` is set, then only with `Authorization: Bearer <token>`
 * (401 otherwise). A reading the database cannot give right now makes the scrape a 503.
 */
export async function answerMetrics(req: http.IncomingMessage, res: http.ServerResponse, token: string | undefined) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
    return res.end("method not allowed: GET /metrics\n");
  }
  if (token !== undefined && !tokenMatches(req.headers.authorization, token)) {
    res.writeHead(401, {
      "www-authenticate": 'Bearer realm="hubkeep-metrics"',
      "content-type": "text/plain; charset=utf-8",
    });
    return res.end("/metrics needs Authorization: Bearer <HUBKEEP_METRICS_TOKEN>\n");
  }
  try {
    const { contentType, body } = await renderMetrics();
    res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : body);
  } catch (err) {
    res.writeHead(503, { "content-type": "text/plain; charset=utf-8" });
    res.end(`metrics unavailable: ${(err as Error).message.split("\n")[0]}\n`);
  }
}

/** `npm run worker`'s own metrics endpoint: GET /metrics on `port`, nothing else. */
export async function startMetricsServer(opts: {
  port: number;
  host: string;
  token: string | undefined;
}): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const started = performance.now();
    const pathname = (req.url ?? "/").split("?")[0]!;
    res.once("close", () =>
      recordRequest(
        pathname === "/metrics" ? "/metrics" : "/{unknown}",
        req.method ?? "GET",
        res.statusCode,
        (performance.now() - started) / 1000,
      ),
    );
    if (pathname === "/metrics") return void answerMetrics(req, res, opts.token);
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("the worker serves only /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, resolve);
  });
  return server;
}
