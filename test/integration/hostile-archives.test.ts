// Hostile upstream archives fail fast and stall nobody: mirrored from the fake upstream through the
// real queue and worker (two fetch slots), a 100,000-entry archive and a gzip bomb each fail within
// 10 s naming the limit they broke, a normal mirror requested behind them is stored within 30 s, an
// upstream that trickles forever is stopped by the job's budget, and setuid/setgid/sticky entries are
// refused. None of them leaves a version, a blob or a staging file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { createTestWorld, type TestWorld } from "../helpers/world.ts";
import { FAKE_MODELS } from "../helpers/fake-upstream.ts";
import { writeGzipBomb, writeManyEntriesArchive, writeTarGz } from "../helpers/hostile-archives.ts";
import { startWorker, type Worker } from "../../lib/jobs/worker.ts";
import { requestMirror } from "../../lib/models/mirror-request.ts";
import { getMirror } from "../../lib/models/mirror-view.ts";
import { mirrorFetchJob } from "../../lib/models/mirror-fetch.ts";
import { readArchive, ArchiveError } from "../../lib/archive/read-archive.ts";
import { storeArchiveEntries } from "../../lib/models/store-archive-entries.ts";
import type { Principal } from "../../lib/auth/principal.ts";

let world: TestWorld;
let t: TestWorld["db"];
let work: string;
let store: TestWorld["store"];
let queue: TestWorld["queue"];
let worker: Worker;
// The world's publisher (u1, publish scope).
let actor: Principal;
const added: string[] = [];

before(async () => {
  world = await createTestWorld({
    name: "hostile",
    upstream: true,
    env: {
      HUBKEEP_MIRROR_CONCURRENCY: "2",
      // Generous here (a loaded CI machine); the trickle test lowers it for its own job.
      HUBKEEP_MIRROR_BUDGET_SECONDS: "120",
    },
    publisher: true,
    store: true,
    queue: true,
    allowlist: ["google/*"],
  });
  ({ db: t, work, store, queue, publisher: actor } = world);
  const made = Date.now();
  const many = await writeManyEntriesArchive(path.join(work, "many.tar.gz"), 100_000);
  const bomb = await writeGzipBomb(path.join(work, "bomb.tar.gz"), 2 * 1024 ** 3);
  const setuid = writeTarGz(path.join(work, "setuid.tar.gz"), [
    { name: "saved_model.pb", body: "x" },
    { name: "variables/", type: "directory", mode: 0o755 },
    { name: "variables/helper", body: "#!/bin/sh", mode: 0o4755 },
  ]);
  for (const [key, file] of [
    ["google/many_files@1", many],
    ["google/gzip_bomb@1", bomb],
    ["google/setuid@1", setuid],
  ] as const) {
    FAKE_MODELS[key] = { kind: "targz-file", file };
    added.push(key);
  }
  console.log(
    `hostile archives: ${fs.statSync(many).size} bytes (100,000 entries), bomb ${fs.statSync(bomb).size} bytes (2 GiB of zeros), made in ${((Date.now() - made) / 1000).toFixed(1)} s`,
  );
  worker = await startWorker(queue, [mirrorFetchJob], { pollingIntervalSeconds: 0.5 });
});

after(async () => {
  await worker?.stop();
  await world?.close();
  for (const k of added) delete FAKE_MODELS[k];
});

async function settled(id: string, ms: number) {
  const end = Date.now() + ms;
  for (;;) {
    const m = await getMirror(id);
    if (m.status === "stored" || m.status === "failed") return m;
    if (Date.now() > end) throw new Error(`mirror ${id} still ${m.status} after ${ms} ms (${m.bytesDone} bytes)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function storedFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true }))
      (e.isDirectory() ? walk : (p: string) => out.push(p))(path.join(d, e.name));
  };
  walk(path.join(work, "store"));
  return out;
}

test("two hostile archives fail within 10 s each, naming the limit, and a normal mirror behind them is stored within 30 s", async () => {
  const t0 = Date.now();
  const many = (await requestMirror({ url: "https://tfhub.dev/google/many_files/1", actor })).mirror;
  const bomb = (await requestMirror({ url: "https://tfhub.dev/google/gzip_bomb/1", actor })).mirror;
  const normal = (await requestMirror({ url: "https://tfhub.dev/google/half_plus_two/1", actor })).mirror;
  const [m, b, n] = await Promise.all([settled(many.id, 10_000), settled(bomb.id, 10_000), settled(normal.id, 30_000)]);
  const took = (Date.now() - t0) / 1000;
  const at = (v: { finishedAt: Date | null }) => `${((v.finishedAt!.getTime() - t0) / 1000).toFixed(1)} s`;
  const rows = await t.handle.prisma.mirrorRequest.findMany({ where: { id: { in: [m.id, b.id, n.id] } } });
  const row = (id: string) => rows.find((r) => r.id === id)!;
  console.log(
    `100,000 entries: ${m.status} at ${at(row(m.id))}; bomb: ${b.status} at ${at(row(b.id))}; normal: ${n.status} at ${at(row(n.id))}; all settled ${took.toFixed(1)} s after the first request`,
  );
  assert.equal(m.status, "failed");
  assert.match(m.error!, /more than 10000 entries \(limit HUBKEEP_ARCHIVE_MAX_ENTRIES\)/);
  assert.equal(b.status, "failed");
  assert.match(
    b.error!,
    /decompresses more than 200:1 \((\d+) bytes from the first (\d+) compressed bytes\).*decompression bomb/,
  );
  const inflated = Number(/\((\d+) bytes from/.exec(b.error!)![1]);
  assert.ok(inflated < 32 * 1024 * 1024, `the bomb stopped after ${inflated} bytes of output, not 2 GiB`);
  assert.equal(n.status, "stored", n.error);

  // Nothing of the refused archives is kept: the store holds only the normal version's blobs.
  const versions = await t.handle.prisma.version.findMany({ include: { module: true, files: true } });
  assert.deepEqual(
    versions.map((v) => v.module.handle),
    ["google/half_plus_two"],
  );
  const keep = new Set(
    [versions[0]!.digest, ...versions[0]!.files.map((f) => f.digest)].map((d) => d.slice("sha256:".length)),
  );
  const stray = storedFiles().filter((f) => !keep.has(path.basename(f)));
  assert.deepEqual(stray, [], "no blob or staging file of a refused archive is left");
});

test("an upstream that trickles forever is stopped by the mirror's time budget", async () => {
  // The budget is read when each job starts.
  process.env.HUBKEEP_MIRROR_BUDGET_SECONDS = "4";
  (globalThis as { __hubkeepEnv?: unknown }).__hubkeepEnv = undefined;
  const t0 = Date.now();
  const { mirror } = await requestMirror({ url: "https://tfhub.dev/google/trickle/1", actor });
  const m = await settled(mirror.id, 15_000);
  assert.equal(m.status, "failed");
  assert.match(m.error!, /mirror-fetch took longer than its time budget of 4 s \(HUBKEEP_MIRROR_BUDGET_SECONDS\)/);
  assert.ok(Date.now() - t0 < 12_000);
  assert.equal(await t.handle.prisma.version.count({ where: { module: { handle: "google/trickle" } } }), 0);
  process.env.HUBKEEP_MIRROR_BUDGET_SECONDS = "120";
  (globalThis as { __hubkeepEnv?: unknown }).__hubkeepEnv = undefined;
});

test("setuid, setgid and sticky entries are refused naming the entry and its mode; a sticky directory is not", async () => {
  const { mirror } = await requestMirror({ url: "https://tfhub.dev/google/setuid/1", actor });
  const m = await settled(mirror.id, 10_000);
  assert.equal(m.status, "failed");
  assert.match(
    m.error!,
    /archive entry 'variables\/helper' has mode 04755 \(setuid\): special permission bits are not allowed/,
  );
  const refused = async (entries: Parameters<typeof writeTarGz>[1], message: RegExp) => {
    const file = writeTarGz(path.join(work, `t-${Math.random()}.tar.gz`), entries);
    await assert.rejects(
      readArchive(fs.createReadStream(file), async ({ stream }) => void stream.resume()),
      (err: unknown) => {
        assert.ok(err instanceof ArchiveError);
        assert.equal(err.reason, "mode");
        assert.match(err.message, message);
        return true;
      },
    );
  };
  await refused([{ name: "run", body: "x", mode: 0o2755 }], /'run' has mode 02755 \(setgid\)/);
  await refused([{ name: "data", body: "x", mode: 0o1644 }], /'data' has mode 01644 \(sticky\)/);
  await refused([{ name: "d/", type: "directory", mode: 0o6755 }], /'d\/' has mode 06755 \(setuid, setgid\)/);
  // tfhub.dev's own half_plus_two archive has 01755 directories: accepted (and mirrored above).
  const ok = writeTarGz(path.join(work, "sticky-dir.tar.gz"), [
    { name: "variables/", type: "directory", mode: 0o1755 },
    { name: "saved_model.pb", body: "x" },
  ]);
  const r = await readArchive(fs.createReadStream(ok), async ({ stream }) => void stream.resume());
  assert.equal(r.files, 1);
});

test("small files are stored only after the whole archive passed: a refusal past 9,000 entries stores nothing", async () => {
  const file = await writeManyEntriesArchive(path.join(work, "many-small.tar.gz"), 10_500);
  const before = storedFiles().length;
  const t0 = Date.now();
  await assert.rejects(storeArchiveEntries(fs.createReadStream(file), store), /more than 10000 entries/);
  const ms = Date.now() - t0;
  assert.equal(storedFiles().length, before, "no blob was written for the refused archive");
  assert.ok(ms < 5000, `refused in ${ms} ms`);
  // Under the limit, every file is stored (concurrently) and listed.
  const fine = await writeManyEntriesArchive(path.join(work, "many-ok.tar.gz"), 300);
  const files = await storeArchiveEntries(Readable.from([fs.readFileSync(fine)]), store);
  assert.equal(files.length, 301);
  assert.ok(files.every((f) => f.size === 1 && f.digest.startsWith("sha256:")));
});
