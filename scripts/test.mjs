#!/usr/bin/env node
// `npm test`: the whole suite with node's test runner.
//   pass 1 "embedded": every test, with the embedded defaults (PGlite, filesystem store, an
//          in-process S3 server for the S3 driver) - what a fresh machine has;
//   pass 2 "postgres": when DATABASE_URL is set, the integration tests again against that
//          PostgreSQL (each file makes its own fresh database hk_test_<run>_*, dropped afterwards)
//          and, when S3_ENDPOINT is set, against that S3 server.
// Types are checked first, and the web app is built if needed (the server tests run it).
import fs from "node:fs";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { buildIfNeeded, root } from "./build-if-needed.mjs";

process.env.NEXT_TELEMETRY_DISABLED = "1";
process.env.HUBKEEP_TEST_RUN ??= randomBytes(4).toString("hex");

function listTests(dir) {
  const out = [];
  const walk = (d) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".test.ts")) out.push(path.relative(root, p));
    }
  };
  walk(path.join(root, dir));
  return out.sort();
}

const argv = process.argv.slice(2);
const specArgs = argv.filter((a) => a.endsWith(".spec.ts"));
const args = argv.filter((a) => !a.endsWith(".spec.ts"));
const unit = listTests("test/unit");
const integration = listTests("test/integration");
// Browser tests (Playwright, test/e2e): the whole set with no arguments, or the .spec.ts files named.
const runBrowser = argv.length === 0 || specArgs.length > 0;

const tsc = spawnSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", root], {
  cwd: root,
  stdio: "inherit",
});
if (tsc.status !== 0) {
  console.error("hubkeep tests: type check failed");
  process.exit(1);
}
buildIfNeeded();

const EXTERNAL = [
  "DATABASE_URL",
  "S3_ENDPOINT",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "S3_REGION",
  "S3_FORCE_PATH_STYLE",
  "BLOB_STORE_URL",
];
const embeddedEnv = { ...process.env };
for (const k of EXTERNAL) delete embeddedEnv[k];

const passes = [];
if (argv.length === 0 || args.length > 0) {
  passes.push({ name: "embedded", env: embeddedEnv, files: args.length ? args : [...unit, ...integration] });
  if (process.env.DATABASE_URL)
    passes.push({ name: "postgres", env: process.env, files: args.length ? args : integration });
}

const totals = { pass: 0, fail: 0, skipped: 0, cancelled: 0 };
const ALONE = new Set(["test/integration/blob-store.test.ts"]);

function runFiles(files, concurrency, env) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files],
      {
        cwd: root,
        env,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let tail = "";
    child.stdout.on("data", (d) => {
      process.stdout.write(d);
      tail = (tail + d).slice(-4000);
    });
    child.on("exit", (c) => {
      for (const k of Object.keys(totals)) {
        const m = new RegExp(`ℹ ${k} (\\d+)`).exec(tail);
        if (m) totals[k] += Number(m[1]);
      }
      resolve(c ?? 1);
    });
  });
}
let failed = false;
for (const p of passes) {
  console.log(
    `\n=== hubkeep tests, pass "${p.name}": ${p.files.length} files; database: ${p.env.DATABASE_URL ? "PostgreSQL (a fresh database per file)" : "embedded PGlite"}; ` +
      `S3: ${p.env.S3_ENDPOINT ?? "s3rver"}`,
  );
  // Throughput and memory tests run alone: the CPU-heavy files (servers, sandboxed validations)
  // would otherwise starve their in-process S3 server and turn a measurement into a timeout.
  const alone = p.files.filter((f) => ALONE.has(f));
  const rest = p.files.filter((f) => !ALONE.has(f));
  let code = 0;
  for (const [files, concurrency] of [
    [alone, 1],
    [rest, 2],
  ]) {
    if (files.length === 0) continue;
    const c = await runFiles(files, concurrency, p.env);
    if (c !== 0) code = c;
  }
  if (code !== 0) failed = true;
}

// Browser tests: Debian's chromium, never a downloaded browser. They use the real PostgreSQL and S3
// when DATABASE_URL / S3_ENDPOINT are set. Without chromium they are reported as NOT RUN (and fail
// the run in CI, where .ci/run installs it).
let browser = "not requested";
if (runBrowser) {
  const chromium = process.env.HUBKEEP_CHROMIUM ?? "/usr/bin/chromium";
  if (!fs.existsSync(chromium)) {
    browser = `NOT RUN: no chromium at ${chromium} (apt-get install -y chromium)`;
    console.log(`\n=== hubkeep browser tests ${browser}`);
    if (process.env.CI) failed = true;
  } else {
    console.log(
      `\n=== hubkeep tests, pass "browser": Playwright with ${chromium}; screenshots in test-results/screenshots`,
    );
    const code = await new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        [path.join(root, "node_modules/@playwright/test/cli.js"), "test", "--reporter=list", ...specArgs],
        {
          cwd: root,
          env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: "1", HUBKEEP_CHROMIUM: chromium },
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let out = "";
      child.stdout.on("data", (d) => {
        process.stdout.write(d);
        out += d;
      });
      child.on("exit", (c) => {
        const n = (k) => Number(new RegExp(`(\\d+) ${k}`).exec(out)?.[1] ?? 0);
        totals.pass += n("passed");
        totals.fail += n("failed") + n("flaky") + n("interrupted");
        totals.skipped += n("skipped") + n("did not run");
        browser = `${n("passed")} passed, ${n("failed")} failed`;
        resolve(c ?? 1);
      });
    });
    if (code !== 0) failed = true;
  }
}

if (process.env.DATABASE_URL) {
  const { default: pg } = await import("pg");
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  try {
    await admin.connect();
    const { rows } = await admin.query("SELECT datname FROM pg_database WHERE datname LIKE $1", [
      `hk_test_${process.env.HUBKEEP_TEST_RUN}_%`,
    ]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await admin.end().catch(() => {});
  }
}
console.log(`\nhubkeep tests (${[...passes.map((p) => p.name), ...(runBrowser ? ["browser"] : [])].join(" + ")}):`);
if (runBrowser) console.log(`browser: ${browser}`);
console.log(`${totals.pass} passed, ${totals.fail + totals.cancelled} failed, ${totals.skipped} skipped`);
process.exit(failed ? 1 : 0);
