// Crash safety: a publishing process SIGKILLed at each step leaves no partial version; a retry then
// publishes the complete version; gc removes the staging leftovers.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { openDatabase, setDatabase, clearDatabase, type DbHandle } from "../../lib/db/client.ts";
import { applyMigrations } from "../../lib/db/migrate.ts";
import { FsBlobStore, setBlobStore } from "../../lib/storage/index.ts";
import { collectGarbage } from "../../lib/models/gc.ts";
import { ROOT } from "../helpers/server.ts";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-crash-"));
const blobDir = path.join(work, "blobs");
const pgliteDir = path.join(work, "pgdata");
let dbUrl: string | undefined;
let dropDb: (() => Promise<void>) | undefined;

after(async () => {
  await dropDb?.();
  fs.rmSync(work, { recursive: true, force: true });
});

async function open(): Promise<DbHandle> {
  const h = await openDatabase({ databaseUrl: dbUrl, pgliteDir });
  setDatabase(h);
  return h;
}

async function close(h: DbHandle) {
  clearDatabase();
  await h.close();
}

async function runChild(crashAt: string, handle: string): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test/helpers/publish-child.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      CRASH_AT: crashAt,
      HANDLE: handle,
      BLOB_DIR: blobDir,
      ...(dbUrl ? { DATABASE_URL: dbUrl } : { PGLITE_DIR: pgliteDir, DATABASE_URL: "" }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const deadline = Date.now() + 60_000;
  while (!out.includes(`AT ${crashAt}`) && !out.includes("PUBLISHED")) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`child ended without reaching ${crashAt}:\n${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  await exited;
  return out;
}

test("kill during publish at every step, then retry", { timeout: 240_000 }, async () => {
  if (usingPostgres()) {
    const created = await createEmptyPostgresDatabase();
    dbUrl = created.url;
    dropDb = created.drop;
  }
  fs.mkdirSync(blobDir, { recursive: true });
  const store = new FsBlobStore({ root: blobDir });
  setBlobStore(store);
  let h = await open();
  await applyMigrations(h.adapterFactory);
  await close(h);

  for (const step of ["mid-put", "blobs-checked", "in-transaction"]) {
    const handle = `google/crash_${step.replace(/-/g, "_")}`;
    const out = await runChild(step, handle);
    assert.match(out, new RegExp(`AT ${step}`));

    h = await open();
    const visible = await h.prisma.version.count({ where: { module: { handle } } });
    assert.equal(visible, 0, `no version is visible after a kill at ${step}`);
    assert.equal(await h.prisma.versionFile.count({ where: { version: { module: { handle } } } }), 0);
    assert.equal(
      await h.prisma.module.count({ where: { handle } }),
      0,
      "the module row was part of the same transaction",
    );
    await close(h);

    // The retry (no crash) publishes the whole version.
    const retry = await runChild("never", handle);
    assert.match(retry, /PUBLISHED/);
    h = await open();
    const v = await h.prisma.version.findFirstOrThrow({ where: { module: { handle } }, include: { files: true } });
    assert.equal(v.files.length, 4);
    for (const f of v.files) assert.ok(await store.stat(f.digest), `${f.path} is stored`);
    await close(h);
  }

  // The mid-put kill left a staged upload; gc (past its grace period) removes it and nothing else.
  const staging = path.join(blobDir, "v1/staging");
  const leftovers = fs.existsSync(staging) ? fs.readdirSync(staging) : [];
  assert.ok(leftovers.length >= 1, "the killed put left a staging file");
  h = await open();
  const report = await collectGarbage({ apply: true, graceSeconds: 0, now: new Date(Date.now() + 1000) });
  assert.equal(report.deletedStaging, leftovers.length);
  assert.equal(report.deletedBlobs, 0, "every committed blob is referenced by a version");
  assert.deepEqual(fs.readdirSync(staging), []);
  await close(h);
});
