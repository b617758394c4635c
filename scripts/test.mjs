#!/usr/bin/env node
// `npm test`: the whole suite with node's test runner. Without DATABASE_URL the tests use embedded
// PGlite databases and an in-process S3 server; with DATABASE_URL (and S3_ENDPOINT) they also run
// against the real PostgreSQL and S3. Each test file creates its own fresh database named
// hk_test_<run>_<n> (test/helpers/db.ts); this script drops any of this run's that remain.
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { buildIfNeeded } from "./build-if-needed.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.env.NEXT_TELEMETRY_DISABLED = "1";
process.env.HUBKEEP_TEST_RUN ??= randomBytes(4).toString("hex");

const args = process.argv.slice(2);
const files = [];
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith(".test.ts")) files.push(path.relative(root, p));
  }
};
if (args.length) files.push(...args);
else for (const d of ["test/unit", "test/integration"]) if (fs.existsSync(path.join(root, d))) walk(path.join(root, d));
files.sort();

console.log(
  `hubkeep tests: ${files.length} files; database: ${process.env.DATABASE_URL ? "PostgreSQL (fresh database per file)" : "embedded PGlite"}; ` +
    `S3: ${process.env.S3_ENDPOINT ? process.env.S3_ENDPOINT : "in-process s3rver"}`,
);

// Types first: a type error fails the run before any test does.
const tsc = spawnSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", root], { cwd: root, stdio: "inherit" });
if (tsc.status !== 0) {
  console.error("hubkeep tests: type check failed");
  process.exit(1);
}
// The server tests run the built app, as `npm start` does.
buildIfNeeded();

const r = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-reporter=spec", ...files],
  { cwd: root, stdio: "inherit", env: process.env },
);

if (process.env.DATABASE_URL) {
  const { default: pg } = await import("pg");
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  try {
    await admin.connect();
    const { rows } = await admin.query("SELECT datname FROM pg_database WHERE datname LIKE $1", [`hk_test_${process.env.HUBKEEP_TEST_RUN}_%`]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await admin.end().catch(() => {});
  }
}
process.exit(r.status ?? 1);
