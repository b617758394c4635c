// Catalogue search on the real database (PGlite, and PostgreSQL in the second pass): full-text
// relevance with prefix matching, facets, visibility by status, sorts and pages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setupTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { searchCatalogue, toPrefixQuery } from "../../lib/models/catalogue.ts";

let t: TestDatabase;
let seq = 0;

async function model(
  handle: string,
  meta: { title?: string; description?: string; task?: string; tags?: string[]; license?: string; publisher?: string },
  versions: Array<{ status: string; format?: string; downloads?: number }>,
) {
  const prisma = t.handle.prisma;
  const m = await prisma.module.create({
    data: {
      handle,
      source: "upstream",
      publisher: meta.publisher ?? handle.split("/")[0]!,
      title: meta.title,
      description: meta.description,
      task: meta.task,
      tags: meta.tags ?? [],
      license: meta.license,
    },
  });
  for (const [i, v] of versions.entries()) {
    const digest = `sha256:${(++seq).toString(16).padStart(64, "0")}`;
    await prisma.blob.create({ data: { digest, size: 100n, storageKey: `k${seq}` } });
    const row = await prisma.version.create({
      data: {
        moduleId: m.id,
        number: i + 1,
        format: (v.format ?? "saved_model") as never,
        status: v.status as never,
        digest,
        size: 100n,
      },
    });
    if (v.downloads) {
      // What the download counter's flush writes: the daily row and the model's total.
      await prisma.downloadCount.create({
        data: { versionId: row.id, day: new Date("2026-11-01"), count: v.downloads },
      });
      await prisma.module.update({ where: { id: m.id }, data: { downloads: { increment: v.downloads } } });
    }
  }
}

before(async () => {
  t = await setupTestDatabase();
  await model(
    "google/imagenet/mobilenet_v2_100_224/feature_vector",
    {
      title: "MobileNet V2 feature vector",
      description: "Image feature vectors from **MobileNet V2** trained on ImageNet.",
      task: "image-feature-vector",
      tags: ["vision", "imagenet"],
      license: "Apache-2.0",
    },
    [{ status: "approved", downloads: 50 }],
  );
  await model(
    "google/imagenet/mobilenet_v3_small_100_224/classification",
    { title: "MobileNet V3 small classifier", task: "image-classification", tags: ["vision"], license: "Apache-2.0" },
    [{ status: "approved", downloads: 500 }],
  );
  await model(
    "google/universal-sentence-encoder",
    {
      title: "Universal Sentence Encoder",
      description: "Encodes text for semantic similarity. Not a mobilenet.",
      task: "text-embedding",
      tags: ["nlp"],
      license: "Apache-2.0",
    },
    [{ status: "approved", downloads: 5 }],
  );
  await model(
    "tensorflow/tfjs-model/blazeface/1/default",
    { title: "BlazeFace", task: "face-detection", tags: ["vision", "tfjs"], license: "MIT", publisher: "tensorflow" },
    [{ status: "approved", format: "tfjs_graph" }],
  );
  await model(
    "internal/vision/mobilenet_finetuned",
    { title: "Fine-tuned MobileNet (unreviewed)", task: "image-classification", publisher: "internal" },
    [{ status: "validated" }],
  );
  await model("internal/nlp/rejected_model", { title: "Rejected", publisher: "internal" }, [{ status: "rejected" }]);
});
after(async () => {
  await t.drop();
});

test("prefix queries keep only letters and digits", () => {
  assert.equal(toPrefixQuery("MobileNet  feature-vector!"), "mobilenet:* & feature:* & vector:*");
  assert.equal(toPrefixQuery("'; DROP TABLE x; --"), "drop:* & table:* & x:*");
  assert.equal(toPrefixQuery(""), "");
});

test("relevance: title and handle matches rank above a description mention; prefixes match", async () => {
  const r = await searchCatalogue({ q: "mobilenet", includeUnapproved: false });
  assert.deepEqual(
    r.items
      .slice(0, 2)
      .map((i) => i.handle)
      .sort(),
    [
      "google/imagenet/mobilenet_v2_100_224/feature_vector",
      "google/imagenet/mobilenet_v3_small_100_224/classification",
    ],
  );
  assert.equal(r.items.at(-1)!.handle, "google/universal-sentence-encoder", "a description mention ranks last");
  assert.ok(r.items[0]!.rank > r.items.at(-1)!.rank);
  assert.equal(r.total, 3);
  const prefix = await searchCatalogue({ q: "mobilen feat", includeUnapproved: false });
  assert.deepEqual(
    prefix.items.map((i) => i.handle),
    ["google/imagenet/mobilenet_v2_100_224/feature_vector"],
  );
  const tag = await searchCatalogue({ q: "nlp", includeUnapproved: false });
  assert.deepEqual(
    tag.items.map((i) => i.handle),
    ["google/universal-sentence-encoder"],
  );
  assert.equal((await searchCatalogue({ q: "nothing-like-this", includeUnapproved: false })).total, 0);
});

test("visibility: non-admins see approved models only; admins every status and can filter by it", async () => {
  const viewer = await searchCatalogue({ includeUnapproved: false });
  assert.equal(viewer.total, 4);
  assert.ok(!viewer.items.some((i) => i.handle.startsWith("internal/")));
  assert.deepEqual(viewer.facets.status, [], "no status facet for non-admins");
  const admin = await searchCatalogue({ includeUnapproved: true });
  assert.equal(admin.total, 6);
  const validated = await searchCatalogue({ includeUnapproved: true, status: ["validated"] });
  assert.deepEqual(
    validated.items.map((i) => i.handle),
    ["internal/vision/mobilenet_finetuned"],
  );
  assert.deepEqual(
    admin.facets.status.find((s) => s.value === "rejected"),
    { value: "rejected", count: 1 },
  );
});

test("facets count the current results and filter them", async () => {
  const r = await searchCatalogue({ includeUnapproved: false });
  assert.deepEqual(r.facets.publisher, [
    { value: "google", count: 3 },
    { value: "tensorflow", count: 1 },
  ]);
  assert.deepEqual(r.facets.license, [
    { value: "Apache-2.0", count: 3 },
    { value: "MIT", count: 1 },
  ]);
  assert.deepEqual(r.facets.format, [
    { value: "saved_model", count: 3 },
    { value: "tfjs_graph", count: 1 },
  ]);
  const tfjs = await searchCatalogue({ includeUnapproved: false, format: ["tfjs_graph"] });
  assert.deepEqual(
    tfjs.items.map((i) => i.handle),
    ["tensorflow/tfjs-model/blazeface/1/default"],
  );
  const both = await searchCatalogue({
    q: "vision",
    includeUnapproved: false,
    license: ["Apache-2.0"],
    task: ["image-classification"],
  });
  assert.deepEqual(
    both.items.map((i) => i.handle),
    ["google/imagenet/mobilenet_v3_small_100_224/classification"],
  );
});

test("sorts and pages", async () => {
  const byDownloads = await searchCatalogue({ sort: "downloads", includeUnapproved: false });
  assert.deepEqual(
    byDownloads.items.map((i) => i.downloads),
    [500, 50, 5, 0],
  );
  const p1 = await searchCatalogue({ sort: "downloads", includeUnapproved: false, pageSize: 3, page: 1 });
  const p2 = await searchCatalogue({ sort: "downloads", includeUnapproved: false, pageSize: 3, page: 2 });
  assert.equal(p1.items.length, 3);
  assert.deepEqual(
    p2.items.map((i) => i.downloads),
    [0],
  );
  assert.equal(p2.total, 4);
  const beyond = await searchCatalogue({ includeUnapproved: false, pageSize: 3, page: 9 });
  assert.deepEqual([beyond.items.length, beyond.total], [0, 4]);
  const recent = await searchCatalogue({ sort: "recent", includeUnapproved: false });
  assert.equal(
    recent.items[0]!.handle,
    "tensorflow/tfjs-model/blazeface/1/default",
    "the last created is the most recent",
  );
  assert.equal(recent.items[0]!.latestVersion, 1);
  assert.equal(recent.items[0]!.format, "tfjs_graph");
});

test("a flushed download raises the model's total, which the downloads sort uses", async () => {
  const { countDownload, flushDownloads } = await import("../../lib/models/downloads.ts");
  const { ANONYMOUS } = await import("../../lib/auth/principal.ts");
  const v = await t.handle.prisma.version.findFirstOrThrow({
    where: { module: { handle: "google/universal-sentence-encoder" } },
  });
  for (let i = 0; i < 3; i++) countDownload(v.id, ANONYMOUS, "google/universal-sentence-encoder/1", null);
  await flushDownloads();
  const m = await t.handle.prisma.module.findUniqueOrThrow({ where: { handle: "google/universal-sentence-encoder" } });
  assert.equal(m.downloads, 8n);
  const r = await searchCatalogue({ q: "universal", includeUnapproved: false });
  assert.equal(r.items[0]!.downloads, 8);
});

test("the model document lists only the versions the caller may see, and is null when none is visible", async () => {
  const { getModelDocument } = await import("../../lib/models/models.ts");
  const { ANONYMOUS } = await import("../../lib/auth/principal.ts");
  await model(
    "internal/team/mixed",
    { title: "Mixed", description: "three states", task: "image-classification", tags: ["vision"], license: "MIT" },
    [{ status: "approved" }, { status: "validated" }, { status: "rejected" }],
  );
  await model("internal/team/unreviewed", { title: "Unreviewed" }, [{ status: "pending" }]);
  const user = (role: "viewer" | "publisher" | "admin", namespaces: string[] = []) => ({
    kind: "user" as const,
    userId: `u-${role}`,
    email: `${role}@example.com`,
    role,
    scope: null,
    via: "token" as const,
    namespaces,
  });
  const numbers = async (
    principal: Parameters<typeof getModelDocument>[0]["principal"],
    handle = "internal/team/mixed",
  ) => (await getModelDocument({ handle, principal }))?.versions.map((v) => `${v.version}:${v.status}`) ?? null;

  assert.deepEqual(await numbers(ANONYMOUS), ["1:approved"]);
  assert.deepEqual(await numbers(user("viewer")), ["1:approved"]);
  assert.deepEqual(
    await numbers(user("publisher", ["google/*"])),
    ["1:approved"],
    "a publisher outside the namespace sees approved only",
  );
  assert.deepEqual(
    await numbers(user("publisher", ["internal/team/*"])),
    ["3:rejected", "2:validated", "1:approved"],
    "a publisher sees their namespace's versions, newest first",
  );
  assert.deepEqual(await numbers(user("admin")), ["3:rejected", "2:validated", "1:approved"]);
  assert.deepEqual(
    await numbers({ ...user("admin"), scope: "read" }),
    ["1:approved"],
    "an admin's read-scoped token reads like a viewer",
  );

  // Nothing visible reads exactly like a missing model.
  assert.equal(await numbers(user("viewer"), "internal/team/unreviewed"), null);
  assert.equal(await numbers(user("admin"), "internal/team/no-such-model"), null);
  assert.deepEqual(await numbers(user("admin"), "internal/team/unreviewed"), ["1:pending"]);

  const doc = await getModelDocument({ handle: "INTERNAL/team/mixed", principal: user("viewer") });
  assert.ok(doc);
  const { versions, ...rest } = doc;
  assert.deepEqual(
    rest,
    {
      handle: "internal/team/mixed",
      format: "saved_model",
      title: "Mixed",
      description: "three states",
      task: "image-classification",
      tags: ["vision"],
      license: "MIT",
      aliases: {},
    },
    "no source: the seeded model records no upstream URL",
  );
  assert.deepEqual(Object.keys(versions[0]!).sort(), ["createdAt", "digest", "size", "status", "version"]);
  assert.match(versions[0]!.digest, /^sha256:[0-9a-f]{64}$/);
});
