// Single-flight across processes: two processes, 25 concurrent requests each, one PostgreSQL ->
// exactly one mirror request and one upstream fetch. (PGlite is single-process, so this needs
// DATABASE_URL; the embedded pass reports it as skipped.)
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
import { runMirrorFetch } from "../../lib/models/mirrors.ts";
import { seedAllowlistOnce } from "../../lib/upstream/allowlist.ts";
import { startFakeUpstream } from "../helpers/fake-upstream.ts";
import { ROOT } from "../helpers/server.ts";

test("50 concurrent requests from two processes make one mirror request and one fetch", { skip: usingPostgres() ? false : "needs PostgreSQL (several processes on one database)", timeout: 120_000 }, async () => {
  const up = await startFakeUpstream();
  const db = await createEmptyPostgresDatabase();
  const blobDir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-sf-"));
  const h = await openDatabase({ databaseUrl: db.url });
  try {
    setDatabase(h);
    await applyMigrations(h.adapterFactory);
    await h.prisma.user.create({ data: { id: "u1", email: "pub@example.com", role: "publisher" } });
    await seedAllowlistOnce(["google/*"]);
    const env = { ...process.env, DATABASE_URL: db.url, HUBKEEP_UPSTREAM_TFHUB: up.base, HUBKEEP_UPSTREAM_HOSTS: `127.0.0.1:${up.port}`, HUBKEEP_ALLOW_PRIVATE_UPSTREAM: "true", URL: "https://tfhub.dev/google/module_v1_mini/1", N: "25" };
    const children = [0, 1].map(() => {
      const c = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test/helpers/mirror-request-child.ts")], { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      c.stdout.on("data", (d) => (out += d));
      c.stderr.on("data", (d) => (out += d));
      return { c, out: () => out, exited: new Promise<number | null>((r) => c.once("exit", r)) };
    });
    const deadline = Date.now() + 60_000;
    while (!children.every((k) => k.out().includes("READY"))) {
      if (Date.now() > deadline || children.some((k) => k.c.exitCode !== null)) throw new Error(children.map((k) => k.out()).join("\n"));
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const k of children) k.c.stdin.end("go\n"); // both at once
    for (const k of children) assert.equal(await k.exited, 0, k.out());
    const ids = children.flatMap((k) => JSON.parse(/IDS (.*)/.exec(k.out())![1]!) as string[]);
    assert.equal(ids.length, 50);
    assert.equal(new Set(ids).size, 1, "every request joined the same mirror request");
    assert.equal(await h.prisma.mirrorRequest.count({ where: { handle: "google/module_v1_mini" } }), 1);

    setBlobStore(new FsBlobStore({ root: blobDir }));
    const done = await runMirrorFetch(ids[0]!, { policy: { allowedHosts: [`127.0.0.1:${up.port}`], upstreamBase: up.base, allowPrivate: true } });
    assert.equal(done.status, "stored", done.error);
    assert.equal(up.fetches.get("google/module_v1_mini@1"), 1);
  } finally {
    setBlobStore(undefined);
    clearDatabase();
    await h.close();
    await db.drop();
    await up.close();
    fs.rmSync(blobDir, { recursive: true, force: true });
  }
});
