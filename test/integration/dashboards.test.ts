// The Grafana dashboard and the Prometheus rules in deploy/ against the real thing: every metric an
// expression names is one the server exposes (by its scrape, with the labels the expression uses),
// promtool accepts the rules and the example config, and a real Prometheus scraping a real server
// evaluates every dashboard and alert expression without an error, with the rules healthy.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, freePort, ROOT, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { sessionCaller } from "../helpers/api-client.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { metricDefinitions } from "../../lib/metrics.ts";

const TOKEN = "dashboards-metrics-token-1";
const DASHBOARD = path.join(ROOT, "deploy/grafana/hubkeep.json");
const RULES = path.join(ROOT, "deploy/prometheus/alerts.yml");
const EXAMPLE_CONFIG = path.join(ROOT, "deploy/prometheus/prometheus.yml");

let server: RunningServer;
let work: string;
let dropDb: (() => Promise<void>) | undefined;
let prometheus: ChildProcess | undefined;
let promUrl: string | undefined;

const hasBinary = (name: string) => spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;

type Panel = { title?: string; targets?: Array<{ expr?: string }>; panels?: Panel[] };

function dashboardExpressions(): Array<{ where: string; expr: string }> {
  const doc = JSON.parse(fs.readFileSync(DASHBOARD, "utf8")) as { panels: Panel[] };
  const out: Array<{ where: string; expr: string }> = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `dashboard panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(doc.panels);
  return out;
}

function ruleExpressions(): Array<{ where: string; expr: string }> {
  // The rules file's shape is fixed (groups -> rules -> alert/expr): read the expressions without a
  // YAML parser, block scalars included.
  const lines = fs.readFileSync(RULES, "utf8").split("\n");
  const out: Array<{ where: string; expr: string }> = [];
  let alert = "";
  for (let i = 0; i < lines.length; i++) {
    const a = /^\s*- alert: (\S+)/.exec(lines[i]!);
    if (a) alert = a[1]!;
    const e = /^(\s*)expr: (.*)$/.exec(lines[i]!);
    if (!e) continue;
    if (e[2] !== "|") {
      out.push({ where: `alert ${alert}`, expr: e[2]! });
      continue;
    }
    const body: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.startsWith(`${e[1]}  `) || lines[i + 1]!.trim() === "")) {
      if (lines[i + 1]!.trim() === "") break;
      body.push(lines[++i]!.trim());
    }
    out.push({ where: `alert ${alert}`, expr: body.join(" ") });
  }
  return out;
}

const PROMQL_WORDS = new Set([
  "sum",
  "max",
  "min",
  "avg",
  "count",
  "rate",
  "increase",
  "deriv",
  "histogram_quantile",
  "clamp_min",
  "by",
  "on",
  "and",
  "or",
  "unless",
  "without",
  "ignoring",
  "le",
]);

/** Series Prometheus makes itself, not the server. */
const PROMETHEUS_OWN = new Set(["up"]);

/** The metric names an expression reads (identifiers that start a selector), without PromQL words. */
function metricsOf(expr: string): string[] {
  const noStrings = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{\{[^}]*\}\}/g, "")
    .replace(/\[[^\]]*\]/g, "");
  const noGroups = noStrings.replace(/\b(by|on|without|ignoring)\s*\([^)]*\)/g, "");
  const names = [...noGroups.matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g)].map((m) => m[1]!);
  return [
    ...new Set(
      names.filter((n) => !PROMQL_WORDS.has(n) && !/^\d/.test(n) && (n.includes("_") || PROMETHEUS_OWN.has(n))),
    ),
  ];
}

/** Label names an expression uses on `metric`: in its selector and in by()/on() clauses. */
function labelsOf(expr: string): string[] {
  const labels = new Set<string>();
  for (const m of expr.matchAll(/\{([^}]*)\}/g))
    for (const l of m[1]!.matchAll(/([a-z_][a-z0-9_]*)\s*(=~|!=|!~|=)/g)) labels.add(l[1]!);
  for (const m of expr.matchAll(/\b(?:by|on)\s*\(([^)]*)\)/g))
    for (const l of m[1]!
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean))
      labels.add(l);
  labels.delete("le");
  labels.delete("job");
  return [...labels];
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-dashboards-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    PORT: String(port),
    HUBKEEP_PUBLIC_URL: `http://localhost:${port}`,
    HUBKEEP_DATA_DIR: path.join(work, "data"),
    HUBKEEP_ADMIN_EMAIL: "admin@example.com",
    HUBKEEP_ADMIN_PASSWORD: "admin-password-1",
    HUBKEEP_METRICS_TOKEN: TOKEN,
  };
  if (usingPostgres()) {
    const db = await createEmptyPostgresDatabase();
    env.DATABASE_URL = db.url;
    dropDb = db.drop;
  }
  server = await startServer(env);
  // A short journey, so the series the expressions read exist: an upload, its validation, approval,
  // a download, a quota.
  const session = await sessionCaller(base, "admin@example.com", "admin-password-1");
  const admin = (await session("POST", "/api/v1/tokens", { scope: "admin" })).token;
  const auth = { authorization: `Bearer ${admin}` };
  const tflite = new Uint8Array(fs.readFileSync(fixturePath("serving-half_plus_two_tflite", "model.tflite")));
  const put = await fetch(`${base}/api/v1/models/ops/half_plus_two/versions/1`, {
    method: "PUT",
    headers: auth,
    body: tflite,
  });
  assert.equal(put.status, 201, await put.text());
  for (const until = Date.now() + 120_000; ;) {
    const v = (await (await fetch(`${base}/api/v1/models/ops/half_plus_two/versions/1`, { headers: auth })).json()) as {
      status: string;
    };
    if (v.status !== "pending" && v.status !== "validating") break;
    if (Date.now() > until) throw new Error(`the upload stayed ${v.status}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  const approve = await fetch(`${base}/api/v1/models/ops/half_plus_two/versions/1/approve`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ note: "dashboards test" }),
  });
  assert.equal(approve.status, 200, await approve.text());
  assert.equal((await fetch(`${base}/ops/half_plus_two/1?lite-format=tflite`)).status, 200);
  const quota = await fetch(`${base}/api/v1/quotas`, {
    method: "PUT",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ namespace: "ops/*", maxBytes: 1_000_000 }),
  });
  assert.equal(quota.status, 201, await quota.text());
});

after(async () => {
  if (prometheus && prometheus.exitCode === null) {
    prometheus.kill("SIGTERM");
    await new Promise((r) => prometheus!.once("exit", r));
  }
  await server?.stop();
  await dropDb?.();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

// The contract's metric set (../shared/CONTRACT.md, Operations).
const CONTRACT_METRICS = [
  "hubkeep_http_requests_total",
  "hubkeep_http_request_duration_seconds",
  "hubkeep_downloads_total",
  "hubkeep_served_bytes_total",
  "hubkeep_upstream_requests_total",
  "hubkeep_upstream_fetched_bytes_total",
  "hubkeep_upstream_fetch_duration_seconds",
  "hubkeep_mirror_requests_total",
  "hubkeep_jobs_queue_depth",
  "hubkeep_jobs_oldest_age_seconds",
  "hubkeep_job_duration_seconds",
  "hubkeep_validation_runs_total",
  "hubkeep_versions",
  "hubkeep_storage_bytes",
  "hubkeep_quota_bytes",
  "hubkeep_webhook_deliveries_total",
  "hubkeep_webhook_pending",
  "hubkeep_build_info",
];

test("after the journey, a scrape shows every metric of the contract with sane values", async () => {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const value = (series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  for (const name of CONTRACT_METRICS) assert.match(text, new RegExp(`^# TYPE ${name} `, "m"), name);
  assert.ok(value('hubkeep_downloads_total{format="tflite"}')! >= 1);
  assert.ok(value('hubkeep_served_bytes_total{format="tflite"}')! >= 768);
  assert.equal(value('hubkeep_versions{status="approved"}'), 1);
  assert.equal(value('hubkeep_storage_bytes{namespace="ops/*"}'), 768);
  assert.equal(value('hubkeep_quota_bytes{namespace="ops/*"}'), 1_000_000);
  assert.match(text, /^hubkeep_validation_runs_total\{format="tflite",level="\w+",outcome="validated"\} 1$/m);
  assert.ok(value('hubkeep_job_duration_seconds_count{queue="validate-version",outcome="completed"}')! >= 1);
  assert.equal(value("hubkeep_webhook_pending"), 0);
  for (const o of ["created", "joined", "existing", "refused"])
    assert.equal(value(`hubkeep_mirror_requests_total{outcome="${o}"}`), 0, "no mirror in this journey");
  for (const o of ["delivered", "retried", "failed", "disabled"])
    assert.equal(value(`hubkeep_webhook_deliveries_total{outcome="${o}"}`), 0);
  assert.equal(value('hubkeep_upstream_requests_total{outcome="ok"}'), 0);
  assert.ok(
    value('hubkeep_http_requests_total{route="/api/v1/models/{handle}/versions/{n}",method="PUT",status="201"}')! >= 1,
  );
});

test("the dashboard and the rules parse, and name only metrics and labels the server exposes", async () => {
  const exprs = [...dashboardExpressions(), ...ruleExpressions()];
  assert.ok(dashboardExpressions().length >= 19, "a panel per contract area");
  assert.equal(ruleExpressions().length, 7);
  const scrape = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const exposed = new Set<string>();
  for (const m of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exposed.add(m[1]!);
    if (m[2] === "histogram") for (const s of ["_bucket", "_sum", "_count"]) exposed.add(`${m[1]}${s}`);
  }
  const defs = new Map(metricDefinitions().map((d) => [d.name, d]));
  const problems: string[] = [];
  for (const { where, expr } of exprs) {
    const names = metricsOf(expr);
    if (names.length === 0) problems.push(`${where}: names no metric (${expr})`);
    for (const name of names) {
      if (PROMETHEUS_OWN.has(name)) continue;
      if (!exposed.has(name)) {
        problems.push(`${where}: ${name} is not exposed by the server`);
        continue;
      }
      const def = defs.get(name.replace(/_(bucket|sum|count)$/, "")) ?? defs.get(name);
      for (const label of labelsOf(expr)) {
        if (!def?.labelNames.includes(label) && names.length === 1)
          problems.push(`${where}: ${name} has no label "${label}"`);
      }
    }
  }
  assert.deepEqual(problems, []);
  // The check itself can fail: a made-up metric is caught.
  assert.deepEqual(metricsOf("sum(rate(hubkeep_no_such_total[5m]))"), ["hubkeep_no_such_total"]);
  assert.ok(!exposed.has("hubkeep_no_such_total"));
});

test(
  "promtool accepts the alert rules and the example scrape config",
  { skip: !hasBinary("promtool") && "promtool is not installed (Debian package prometheus)" },
  () => {
    const rules = spawnSync("promtool", ["check", "rules", RULES], { encoding: "utf8" });
    assert.equal(rules.status, 0, rules.stdout + rules.stderr);
    assert.match(rules.stdout, /SUCCESS: 7 rules found/);
    const config = spawnSync("promtool", ["check", "config", EXAMPLE_CONFIG], { encoding: "utf8" });
    assert.equal(config.status, 0, config.stdout + config.stderr);
  },
);

test(
  "a real Prometheus scraping the server evaluates every expression, with healthy rules",
  { skip: !hasBinary("prometheus") && "prometheus is not installed (Debian package prometheus)" },
  async () => {
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const dir = path.join(work, "prometheus");
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(RULES, path.join(dir, "alerts.yml"));
    fs.writeFileSync(
      path.join(dir, "prometheus.yml"),
      [
        "global: { scrape_interval: 1s, evaluation_interval: 1s }",
        "rule_files: [alerts.yml]",
        "scrape_configs:",
        "  - job_name: hubkeep",
        `    authorization: { type: Bearer, credentials: ${TOKEN} }`,
        `    static_configs: [{ targets: ["${new URL(server.url).host}"] }]`,
        "",
      ].join("\n"),
    );
    prometheus = spawn(
      "prometheus",
      [
        `--config.file=${path.join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${path.join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    prometheus.stderr!.on("data", (c: Buffer) => (log += c.toString("utf8")));
    const query = async (q: string) => {
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
      return (await res.json()) as {
        status: string;
        error?: string;
        data?: { result: Array<{ value: [number, string] }> };
      };
    };
    // Until the first scrapes landed: up == 1 and the approved version counted.
    for (const until = Date.now() + 60_000; ;) {
      const up = await query('up{job="hubkeep"}').catch(() => null);
      const approved = await query('max(hubkeep_versions{status="approved"})').catch(() => null);
      if (up?.data?.result[0]?.value[1] === "1" && approved?.data?.result[0]?.value[1] === "1") break;
      if (Date.now() > until) throw new Error(`Prometheus never scraped the server:\n${log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const storage = await query('max(hubkeep_storage_bytes{namespace="ops/*"})');
    assert.equal(storage.data?.result[0]?.value[1], "768");
    for (const { where, expr } of [...dashboardExpressions(), ...ruleExpressions()]) {
      const r = await query(expr.replaceAll("$__rate_interval", "1m"));
      assert.equal(r.status, "success", `${where}: ${r.error}`);
    }
    // The quota panel computes a real ratio: 768 of 1 000 000 bytes.
    const ratio = await query(
      "max by (namespace) (hubkeep_storage_bytes) / on (namespace) max by (namespace) (hubkeep_quota_bytes)",
    );
    assert.ok(Math.abs(Number(ratio.data?.result[0]?.value[1]) - 768 / 1_000_000) < 1e-12);
    for (const until = Date.now() + 30_000; ;) {
      const res = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
        data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
      };
      const rules = res.data.groups.flatMap((g) => g.rules);
      if (rules.length === 7 && rules.every((r) => r.health === "ok")) break;
      if (Date.now() > until)
        throw new Error(`rules not healthy: ${JSON.stringify(rules.map((r) => [r.name, r.health, r.lastError]))}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  },
);
