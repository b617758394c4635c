// A worker killed in the middle of a fetch: the request stays single-flight (joined, not
// duplicated), the retry fetches again and publishes, and gc leaves no temp files behind.
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
import { runMirrorFetch } from "../../lib/models/mirror-fetch.ts";
import { startFakeUpstream } from "../helpers/fake-upstream.ts";
import { ROOT } from "../helpers/server.ts";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-mirror-crash-"));
const blobDir = path.join(work, "blobs");
const pgliteDir = path.join(work, "pgdata");
let dbUrl: string | undefined;
let dropDb: (() => Promise<void>) | undefined;

after(async () => {
  await dropDb?.();
  fs.rmSync(work, { recursive: true, force: true });
});

test("a fetch killed mid-way is retried to completion, leaving nothing behind", { timeout: 180_000 }, async () => {
  const up = await startFakeUpstream();
  try {
    if (usingPostgres()) {
      const created = await createEmptyPostgresDatabase();
      dbUrl = created.url;
      dropDb = created.drop;
    }
    fs.mkdirSync(blobDir, { recursive: true });
    const store = new FsBlobStore({ root: blobDir });
    setBlobStore(store);
    let h: DbHandle = await openDatabase({ databaseUrl: dbUrl, pgliteDir });
    setDatabase(h);
    await applyMigrations(h.adapterFactory);
    const row = await h.prisma.mirrorRequest.create({
      data: {
        url: "https://tfhub.dev/google/kws_dscnn/1",
        handle: "google/kws_dscnn",
        versionNumber: 1,
        format: "saved_model",
        activeKey: "google/kws_dscnn@1",
      },
    });
    clearDatabase();
    await h.close();

    up.throttle = { chunk: 16 * 1024, delayMs: 20 };
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test/helpers/mirror-child.ts")], {
      cwd: ROOT,
      env: {
        ...process.env,
        MIRROR_ID: row.id,
        BLOB_DIR: blobDir,
        UPSTREAM: up.base,
        ...(dbUrl ? { DATABASE_URL: dbUrl } : { PGLITE_DIR: pgliteDir, DATABASE_URL: "" }),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    // Kill it once bytes are flowing into the store.
    const staging = path.join(blobDir, "v1/staging");
    const deadline = Date.now() + 60_000;
    while (!(
      fs.existsSync(staging) && fs.readdirSync(staging).some((f) => fs.statSync(path.join(staging, f)).size > 32 * 1024)
    )) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`child never got going:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await exited;
    const leftAfterKill = fs.readdirSync(staging);

    up.throttle = undefined;

    h = await openDatabase({ databaseUrl: dbUrl, pgliteDir });
    setDatabase(h);
    const mid = await h.prisma.mirrorRequest.findUniqueOrThrow({ where: { id: row.id } });
    assert.equal(mid.status, "fetching");
    assert.equal(mid.activeKey, "google/kws_dscnn@1", "still single-flight: new requests join this one");
    assert.equal(await h.prisma.version.count(), 0, "no version from the killed fetch");

    // The job's retry runs the fetch again from scratch.
    const done = await runMirrorFetch(row.id, {
      policy: { allowedHosts: [`127.0.0.1:${up.port}`], upstreamBase: up.base, allowPrivate: true },
    });
    assert.equal(done.status, "stored", done.error);
    assert.equal(done.bytesDone, done.bytesTotal);
    assert.equal(up.fetches.get("google/kws_dscnn@1"), 2);
    const v = await h.prisma.version.findFirstOrThrow({ include: { files: true } });
    assert.deepEqual(v.files.map((f) => f.path).sort(), [
      "saved_model.pb",
      "variables/variables.data-00000-of-00001",
      "variables/variables.index",
    ]);

    const report = await collectGarbage({ apply: true, graceSeconds: 0, now: new Date(Date.now() + 1000) });
    assert.ok(leftAfterKill.length >= 1, "the kill left a staging file");
    assert.equal(
      report.deletedStaging,
      leftAfterKill.length,
      `the killed fetch's staging files are collected (${JSON.stringify(report.stagingLeftovers)})`,
    );
    assert.equal(report.deletedBlobs, 0, "every committed blob belongs to the version");
    assert.deepEqual(fs.readdirSync(staging), [], "no temp files left behind");
    clearDatabase();
    await h.close();
  } finally {
    await up.close();
  }
});
