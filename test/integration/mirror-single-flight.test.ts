// Single-flight across processes: two processes, 25 concurrent requests each, one PostgreSQL ->
// exactly one mirror request and one upstream request in all (the download; the requests
// themselves contact nothing). For an unversioned URL, 2 x 10 requests -> one lookup of the latest
// version, then that download. (PGlite is single-process, so this needs DATABASE_URL; the
// embedded pass reports it as skipped.)
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { openDatabase, setDatabase, clearDatabase } from "../../lib/db/client.ts";
import { applyMigrations } from "../../lib/db/migrate.ts";
import { FsBlobStore, setBlobStore } from "../../lib/storage/index.ts";
import { runMirrorFetch } from "../../lib/models/mirror-fetch.ts";
import { seedAllowlistOnce } from "../../lib/models/allowlist.ts";
import { startFakeUpstream } from "../helpers/fake-upstream.ts";
import { ROOT } from "../helpers/server.ts";

async function runChildren(env: NodeJS.ProcessEnv): Promise<{ ids: string[]; versions: number[] }> {
  const children = [0, 1].map(() => {
    const c = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test/helpers/mirror-request-child.ts")], {
      cwd: ROOT,
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (out += d));
    return { c, out: () => out, exited: new Promise<number | null>((r) => c.once("exit", r)) };
  });
  const deadline = Date.now() + 60_000;
  while (!children.every((k) => k.out().includes("READY"))) {
    if (Date.now() > deadline || children.some((k) => k.c.exitCode !== null))
      throw new Error(children.map((k) => k.out()).join("\n"));
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const k of children) k.c.stdin.end("go\n"); // both at once
  for (const k of children) assert.equal(await k.exited, 0, k.out());
  return {
    ids: children.flatMap((k) => JSON.parse(/IDS (.*)/.exec(k.out())![1]!) as string[]),
    versions: children.flatMap((k) => JSON.parse(/VERSIONS (.*)/.exec(k.out())![1]!) as number[]),
  };
}

test(
  "50 concurrent requests from two processes make one mirror request and one upstream request",
  { skip: usingPostgres() ? false : "needs PostgreSQL (several processes on one database)", timeout: 120_000 },
  async () => {
    const up = await startFakeUpstream();
    const db = await createEmptyPostgresDatabase();
    const blobDir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-sf-"));
    const h = await openDatabase({ databaseUrl: db.url });
    try {
      setDatabase(h);
      await applyMigrations(h.adapterFactory);
      await h.prisma.user.create({ data: { id: "u1", email: "pub@example.com", role: "publisher" } });
      await seedAllowlistOnce(["google/*"]);
      const env = {
        ...process.env,
        DATABASE_URL: db.url,
        HUBKEEP_UPSTREAM_TFHUB: up.base,
        HUBKEEP_UPSTREAM_HOSTS: `127.0.0.1:${up.port}`,
        HUBKEEP_ALLOW_PRIVATE_UPSTREAM: "true",
        URL: "https://tfhub.dev/google/module_v1_mini/1",
        N: "25",
      };
      const { ids } = await runChildren(env);
      assert.equal(ids.length, 50);
      assert.equal(new Set(ids).size, 1, "every request joined the same mirror request");
      assert.equal(await h.prisma.mirrorRequest.count({ where: { handle: "google/module_v1_mini" } }), 1);
      assert.equal(up.requests, 0, "neither the creating request nor the joiners contacted the upstream");

      setBlobStore(new FsBlobStore({ root: blobDir }));
      const policy = { allowedHosts: [`127.0.0.1:${up.port}`], upstreamBase: up.base, allowPrivate: true };
      const done = await runMirrorFetch(ids[0]!, { policy });
      assert.equal(done.status, "stored", done.error);
      assert.equal(up.fetches.get("google/module_v1_mini@1"), 1);
      assert.equal(up.hits.get("/google/module_v1_mini/1"), 1, "one upstream request in all");
      assert.equal(up.requests, 3, "its redirect chain: tfhub.dev -> Kaggle -> signed storage");

      // Unversioned, across both processes, with the lookup slow enough to overlap them all.
      up.latestDelayMs = 300;
      const latest = await runChildren({ ...env, URL: "https://tfhub.dev/google/latest_demo", N: "10" });
      assert.deepEqual(new Set(latest.versions), new Set([3]), "every request names the pinned version");
      assert.equal(new Set(latest.ids).size, 1);
      assert.equal(up.hits.get("/google/latest_demo"), 1, "one lookup of the latest version for 20 requests");
      assert.equal(up.requests, 3 + 1);
      const pinned = await runMirrorFetch(latest.ids[0]!, { policy });
      assert.equal(pinned.status, "stored", pinned.error);
      assert.equal(pinned.version, 3);
      assert.equal(up.requests, 3 + 1 + 3, "then one download");
    } finally {
      setBlobStore(undefined);
      clearDatabase();
      await h.close();
      await db.drop();
      await up.close();
      fs.rmSync(blobDir, { recursive: true, force: true });
    }
  },
);
