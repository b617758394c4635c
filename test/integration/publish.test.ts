// publishVersion: blobs first, then one transaction; idempotent for the same bytes, 409 for other
// bytes; versions cannot be rewritten; GC removes exactly the orphans.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { createTestWorld, type TestWorld } from "../helpers/world.ts";
import { fixturePath, listFixtureFiles } from "../helpers/fixtures.ts";
import { publishVersion, type VersionFileInput } from "../../lib/models/versions.ts";
import { collectGarbage } from "../../lib/models/gc.ts";

let world: TestWorld;
let t: TestWorld["db"];
let store: TestWorld["store"];
let dir: string;

before(async () => {
  world = await createTestWorld({ name: "publish", store: true });
  ({ db: t, store, storeDir: dir } = world);
});
after(() => world?.close());

async function putFolder(root: string): Promise<VersionFileInput[]> {
  const files: VersionFileInput[] = [];
  for (const rel of listFixtureFiles(root)) {
    const r = await store.put(fs.createReadStream(path.join(root, rel)));
    files.push({ path: rel, digest: r.digest, size: r.size });
  }
  return files;
}

const archive = () => fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz");

test("publishing a real module creates the version and its files in one go", async () => {
  const primary = await store.put(fs.createReadStream(archive()));
  const files = await putFolder(fixturePath("hub-half_plus_two_v1_extracted"));
  const fetchedAt = new Date();
  const v = await publishVersion({
    handle: "google/half_plus_two",
    version: 1,
    format: "tf1_hub",
    source: { kind: "upstream", url: "https://tfhub.dev/google/half_plus_two/1", fetchedAt },
    primary: { digest: primary.digest, size: primary.size },
    files,
    actor: null,
  });
  assert.equal(v.created, true);
  assert.equal(v.status, "pending");
  const row = await t.handle.prisma.version.findUniqueOrThrow({
    where: { id: v.id },
    include: { files: true, module: true },
  });
  assert.equal(row.module.handle, "google/half_plus_two");
  assert.equal(row.module.source, "upstream");
  assert.equal(row.module.upstreamUrl, "https://tfhub.dev/google/half_plus_two");
  assert.equal(row.digest, primary.digest);
  assert.equal(Number(row.size), fs.statSync(archive()).size);
  assert.deepEqual(row.files.map((f) => f.path).sort(), [
    "saved_model.pb",
    "tfhub_module.pb",
    "variables/variables.data-00000-of-00001",
    "variables/variables.index",
  ]);
  assert.equal(
    await t.handle.prisma.auditEvent.count({ where: { action: "version.publish", target: "google/half_plus_two/1" } }),
    1,
  );
});

test("the same bytes again are an idempotent success; other bytes are a 409, audited", async () => {
  const primary = await store.put(fs.createReadStream(archive()));
  const files = await putFolder(fixturePath("hub-half_plus_two_v1_extracted"));
  const again = await publishVersion({
    handle: "Google/Half_Plus_Two",
    version: 1,
    format: "tf1_hub",
    source: { kind: "upstream", url: "https://tfhub.dev/google/half_plus_two/1", fetchedAt: new Date() },
    primary,
    files: [...files].reverse(),
    actor: null,
  });
  assert.equal(again.created, false);

  const other = await store.put(fs.createReadStream(fixturePath("hub-module_v1_mini", "saved_model.pb")));
  await assert.rejects(
    publishVersion({
      handle: "google/half_plus_two",
      version: 1,
      format: "tf1_hub",
      source: { kind: "upstream", url: "https://tfhub.dev/google/half_plus_two/1", fetchedAt: new Date() },
      primary: other,
      files: [{ path: "saved_model.pb", digest: other.digest, size: other.size }],
      actor: null,
    }),
    { status: 409, message: /already exists with other bytes/ },
  );
  assert.equal(await t.handle.prisma.version.count(), 1);
  assert.equal(
    await t.handle.prisma.auditEvent.count({ where: { action: "version.publish.conflict", outcome: "denied" } }),
    1,
  );
});

test("a blob that is not in the store cannot be published, and nothing is written", async () => {
  const before = await t.handle.prisma.version.count();
  await assert.rejects(
    publishVersion({
      handle: "google/missing_bytes",
      version: 1,
      format: "saved_model",
      source: { kind: "upstream", url: "https://tfhub.dev/google/missing_bytes/1", fetchedAt: new Date() },
      primary: { digest: `sha256:${"0".repeat(64)}`, size: 10 },
      files: [],
      actor: null,
    }),
    { status: 409, message: /is not in the store/ },
  );
  assert.equal(await t.handle.prisma.version.count(), before);
  assert.equal(await t.handle.prisma.module.count({ where: { handle: "google/missing_bytes" } }), 0);
});

test("bad manifests are refused with the reason", async () => {
  const p = await store.put(fs.createReadStream(archive()));
  const base = {
    handle: "google/x",
    version: 1,
    format: "saved_model" as const,
    source: { kind: "upload" as const, userId: null },
    primary: p,
    actor: null,
  };
  await assert.rejects(publishVersion({ ...base, files: [{ path: "../etc/passwd", ...p }] }), {
    status: 422,
    message: /"\.\."/,
  });
  await assert.rejects(publishVersion({ ...base, files: [{ path: "/abs", ...p }] }), {
    status: 422,
    message: /relative/,
  });
  await assert.rejects(
    publishVersion({
      ...base,
      files: [
        { path: "a", ...p },
        { path: "a", ...p },
      ],
    }),
    { status: 422, message: /twice/ },
  );
  await assert.rejects(publishVersion({ ...base, version: 0, files: [] }), { status: 422 });
  await assert.rejects(publishVersion({ ...base, handle: "google/../x", files: [] }), { status: 422 });
});

test("uploads can never land under a handle that mirrors an upstream", async () => {
  const p = await store.put(fs.createReadStream(archive()));
  await assert.rejects(
    publishVersion({
      handle: "google/half_plus_two",
      version: 2,
      format: "tf1_hub",
      source: { kind: "upload", userId: null },
      primary: p,
      files: [],
      actor: null,
    }),
    { status: 409, message: /mirrors an upstream model/ },
  );
});

test("the database refuses to rewrite a version's bytes or files", async () => {
  const v = await t.handle.prisma.version.findFirstOrThrow({ include: { files: true } });
  await assert.rejects(
    t.handle.prisma.version.update({ where: { id: v.id }, data: { digest: `sha256:${"1".repeat(64)}` } }),
    /immutable/,
  );
  await assert.rejects(
    t.handle.prisma.versionFile.update({ where: { id: v.files[0]!.id }, data: { path: "evil" } }),
    /immutable/,
  );
  // Status changes (approval) are allowed.
  await t.handle.prisma.version.update({ where: { id: v.id }, data: { status: "validating" } });
});

test("gc: dry run by default, spares young and referenced blobs, then removes exactly the orphans", async () => {
  const orphan = await store.put(Readable.from([Buffer.from("orphaned upload bytes")]));
  const young = await store.put(Readable.from([Buffer.from("an upload still being published")]));
  // Age the orphan past the grace period.
  const old = new Date(Date.now() - 3 * 86_400_000);
  fs.utimesSync(path.join(dir, "v1/blobs/sha256", orphan.digest.slice(7, 9), orphan.digest.slice(7)), old, old);
  const referencedBefore = (await t.handle.prisma.versionFile.findMany()).map((f) => f.digest);

  const dry = await collectGarbage({ apply: false });
  assert.deepEqual(
    dry.orphanBlobs.map((b) => b.digest),
    [orphan.digest],
  );
  assert.equal(dry.deletedBlobs, 0);
  assert.ok(await store.stat(orphan.digest), "dry run deletes nothing");
  assert.ok(dry.skippedYoung >= 1);

  const applied = await collectGarbage({ apply: true });
  assert.equal(applied.deletedBlobs, 1);
  assert.equal(await store.stat(orphan.digest), null);
  assert.ok(await store.stat(young.digest), "young blobs stay");
  for (const d of referencedBefore) assert.ok(await store.stat(d), `referenced ${d} stays`);
  const primary = await t.handle.prisma.version.findFirstOrThrow();
  assert.ok(await store.stat(primary.digest));
});
