// Static validation of published versions: real fixtures validate with their signatures; dangerous
// ops quarantine; corruptions and malicious archives fail with their reason; history is kept.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { createTestWorld, type TestWorld } from "../helpers/world.ts";
import { fixturePath, listFixtureFiles } from "../helpers/fixtures.ts";
import { packTarGz } from "../../lib/archive/pack.ts";
import { publishVersion } from "../../lib/models/versions.ts";
import { validateVersion } from "../../lib/models/validate-version.ts";

let world: TestWorld;
let t: TestWorld["db"];
let store: TestWorld["store"];
let n = 0;

before(async () => {
  world = await createTestWorld({ name: "validate", store: true });
  ({ db: t, store } = world);
});
after(() => world?.close());

/** Publishes a folder (optionally patched) as a tar.gz version and returns its id. */
async function publishFolder(
  root: string,
  format: "saved_model" | "tf1_hub" | "tfjs_graph",
  patch?: (rel: string, bytes: Buffer) => Buffer,
  rename?: Record<string, string>,
) {
  const rels = listFixtureFiles(root).filter((f) => f !== "LICENSE" && f !== "PROVENANCE.txt");
  const entries = rels.map((rel) => {
    const bytes = patch ? patch(rel, fs.readFileSync(path.join(root, rel))) : fs.readFileSync(path.join(root, rel));
    return { path: rename?.[rel] ?? rel, size: bytes.length, open: () => Readable.from([bytes]) };
  });
  const primary = await store.put(packTarGz(entries));
  const v = await publishVersion({
    handle: `internal/test/m${n++}`,
    version: 1,
    format,
    source: { kind: "upload", userId: null },
    primary,
    files: [],
    actor: null,
  });
  return v.id;
}

async function lastRun(versionId: string) {
  return t.handle.prisma.validationRun.findFirstOrThrow({ where: { versionId }, orderBy: { startedAt: "desc" } });
}

test("a TF1 Hub module validates with its signature and is executed by the converter", async () => {
  const primary = await store.put(
    fs.createReadStream(fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz")),
  );
  const v = await publishVersion({
    handle: "internal/test/hub",
    version: 1,
    format: "tf1_hub",
    source: { kind: "upload", userId: null },
    primary,
    files: [],
    actor: null,
  });
  const r = await validateVersion({ versionId: v.id });
  assert.equal(r.status, "validated");
  const run = await lastRun(v.id);
  assert.equal(run.level, "executed", JSON.stringify(run.findings));
  assert.equal(run.runtime, "savedmodel-js 1.0.0");
  assert.equal(run.format, "tf1_hub");
  assert.equal((run.signatures as Array<{ signatures: Array<{ key: string }> }>)[0]!.signatures[0]!.key, "default");
  assert.equal((await t.handle.prisma.version.findUniqueOrThrow({ where: { id: v.id } })).status, "validated");
});

test("SavedModels, TF.js and TFLite fixtures validate", async () => {
  for (const [p, format] of [
    [["mlperf-tiny-kws-dscnn", "model"], "saved_model"],
    [["tfjs-node-saved_model", "times_three_float"], "saved_model"],
    [["tfrust-keras-multi-input", "model"], "saved_model"],
  ] as const) {
    const id = await publishFolder(fixturePath(...p), format);
    assert.equal((await validateVersion({ versionId: id })).status, "validated", p.join("/"));
  }
  const js = await publishFolder(fixturePath("human-blazeface"), "tfjs_graph", undefined, {
    "blazeface.json": "model.json",
  });
  const jr = await validateVersion({ versionId: js });
  assert.equal(jr.status, "validated", jr.result.error);
  assert.deepEqual(
    (jr.result.signatures as { inputs: Array<{ shape: number[] }> }).inputs.map((i) => i.shape),
    [[1, 256, 256, 3]],
  );
  const lite = await store.put(fs.createReadStream(fixturePath("tfjs-tflite-add4", "add4.tflite")));
  const lv = await publishVersion({
    handle: "internal/test/lite",
    version: 1,
    format: "tflite",
    source: { kind: "upload", userId: null },
    primary: lite,
    files: [{ path: "model.tflite", ...lite }],
    actor: null,
  });
  assert.equal((await validateVersion({ versionId: lv.id })).status, "validated");
});

test("a model holding PrintV2 is quarantined with a finding naming the op", async () => {
  const id = await publishFolder(fixturePath("tfnet-simple-auto-compile", "model"), "saved_model");
  const r = await validateVersion({ versionId: id });
  assert.equal(r.status, "quarantined");
  const run = await lastRun(id);
  assert.ok((run.findings as Array<{ op: string }>).some((f) => f.op === "PrintV2"));
});

test("corruptions and malicious archives fail with their reason", async () => {
  const flipped = await publishFolder(fixturePath("mlperf-tiny-kws-dscnn", "model"), "saved_model", (rel, b) => {
    if (!rel.endsWith("data-00000-of-00001")) return b;
    const c = Buffer.from(b);
    c[1000] = c[1000]! ^ 0x10;
    return c;
  });
  const f = await validateVersion({ versionId: flipped });
  assert.equal(f.status, "failed");
  assert.match(f.result.error!, /^variables\.data-00000-of-00001: tensor .* CRC32C mismatch$/);

  const html = await store.put(Readable.from([Buffer.from("<!DOCTYPE html><html>nope</html>")]));
  const hv = await publishVersion({
    handle: "internal/test/html",
    version: 1,
    format: "saved_model",
    source: { kind: "upload", userId: null },
    primary: html,
    files: [],
    actor: null,
  });
  const h = await validateVersion({ versionId: hv.id });
  assert.equal(h.status, "failed");
  assert.match(h.result.error!, /not a tar or tar.gz archive/);

  const noModel = await publishFolder(fixturePath("tfjs-tflite-add4"), "saved_model");
  const nm = await validateVersion({ versionId: noModel });
  assert.equal(nm.status, "failed");
  assert.match(
    nm.result.error!,
    /unrecognised format: no saved_model.pb or model.json at the archive root \(found add4.tflite\)/,
  );
});

test("re-validation keeps the history; approved versions are not re-validated", async () => {
  const id = await publishFolder(fixturePath("tfjs-node-saved_model", "times_two_int"), "saved_model");
  await validateVersion({ versionId: id });
  await validateVersion({ versionId: id });
  assert.equal(await t.handle.prisma.validationRun.count({ where: { versionId: id } }), 2);
  await t.handle.prisma.version.update({ where: { id }, data: { status: "approved" } });
  await assert.rejects(validateVersion({ versionId: id }), { status: 409, message: /is approved/ });
});
