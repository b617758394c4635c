// TF.js layers models, made at test time with real @tensorflow/tfjs in every layout tf.loadLayersModel
// accepts (its own save, and Keras exports with the config under modelTopology.model_config), are
// recognised as layers models and run in the validation sandbox to level `executed`, computing what
// tf.loadLayersModel computes. Broken ones (weights missing or not matching, garbage topology) fail
// with a message naming what is wrong; a layer class TF.js lacks leaves the model at level static.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { runInSandbox } from "../../lib/validation/sandbox/run.ts";
import { executeModel } from "../../lib/validation/execute.ts";
import { validateDirectory } from "../../lib/validation/static.ts";
import { validateVersion } from "../../lib/models/validate-version.ts";
import { publishVersion } from "../../lib/models/versions.ts";
import { packTarGz } from "../../lib/archive/pack.ts";
import { createTestWorld, type TestWorld } from "../helpers/world.ts";
import {
  expectedFirstOutputs,
  loadWithTfjs,
  writeLayersModel,
  type LayersLayout,
  type LayersModelKind,
  type WrittenLayersModel,
} from "../helpers/layers-models.ts";

const MiB = 1024 * 1024;
const limits = { timeoutMs: 60_000, memoryBytes: 1024 * MiB };
let world: TestWorld;
let work: string;
let t: TestWorld["db"];
let store: TestWorld["store"];

before(async () => {
  world = await createTestWorld({ name: "tfjs-layers-test", store: true });
  ({ work, db: t, store } = world);
});

after(() => world?.close());

const CASES: Array<[LayersModelKind, LayersLayout]> = [
  ["residual", "tfjs"],
  ["residual", "keras-2.2"],
  ["residual", "keras-2.4"],
  ["sequential", "tfjs"],
  ["sequential", "keras-2.2"],
  ["sequential", "keras-2.2-list"],
];

let n = 0;
const write = (kind: LayersModelKind, layout: LayersLayout) =>
  writeLayersModel(path.join(work, `${kind}-${layout}-${n++}`), kind, layout);
const readJson = (dir: string) =>
  JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8")) as {
    modelTopology: Record<string, unknown>;
    weightsManifest: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[] }> }>;
  };
const writeJson = (dir: string, json: unknown) => fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(json));

test("every layout tf.loadLayersModel accepts is recognised as a layers model, with its inputs", async () => {
  for (const [kind, layout] of CASES) {
    const m = await write(kind, layout);
    const json = readJson(m.dir);
    assert.equal(
      "model_config" in json.modelTopology,
      layout !== "tfjs",
      `${kind} ${layout}: the layout is the one meant`,
    );
    // TF.js's own loader takes every layout and builds the same model.
    const loaded = await loadWithTfjs(m.dir);
    assert.equal(loaded.countParams(), m.model.countParams());
    const r = validateDirectory(m.dir);
    assert.equal(r.status, "passed", `${kind} ${layout}: ${r.error}`);
    assert.equal(r.format, "tfjs_layers", `${kind} ${layout}`);
    assert.deepEqual(
      r.signatures,
      { inputs: [{ name: m.input.name, dtype: "float32", shape: m.input.shape }], outputs: [] },
      `${kind} ${layout}`,
    );
    assert.equal(r.parameterCount, m.model.countParams());
  }
});

test("each layout runs in the sandbox to level 'executed', with the outputs tf.loadLayersModel computes", async () => {
  for (const [kind, layout] of CASES) {
    const m = await write(kind, layout);
    const what = `${kind} ${layout}`;
    const v = await executeModel(m.dir, validateDirectory(m.dir).format, {
      ...limits,
      backend: "wasm",
      minRuns: 3,
      maxBenchMs: 30,
    });
    assert.equal(v.status, "passed", `${what}: ${v.error}`);
    assert.equal(v.level, "executed", what);
    assert.equal(v.runtime, "tfjs");
    assert.equal(v.backend, "wasm");
    assert.deepEqual(
      v.execution,
      {
        inputs: [{ name: m.input.name, dtype: "float32", shape: m.input.shape }],
        outputs: [{ name: m.output.name, dtype: "float32", shape: m.output.shape }],
      },
      what,
    );
    assert.deepEqual(
      v.result!.benchmarks.map((b) => b.batch),
      [1, 8],
      `${what}: batch 1 and 8, as for graph models`,
    );
    assert.equal(v.result!.paramCount, m.model.countParams());
    // The values: the sandbox's first outputs against TF.js's own loader on the same synthetic input.
    const out = await runInSandbox(
      {
        runtime: "tfjs",
        backend: "wasm",
        format: "tfjs_layers",
        modelDir: m.dir,
        minRuns: 1,
        maxBenchMs: 1,
        sampleOutputs: true,
      },
      limits,
    );
    assert.ok(out.kind === "result" && out.result.ok, JSON.stringify(out).slice(0, 400));
    const got = out.result.outputs[0]!.sample!;
    const want = await expectedFirstOutputs(await loadWithTfjs(m.dir), m.input.shape);
    assert.equal(got.length, want.length, what);
    for (const [k, w] of want.entries())
      assert.ok(
        Math.abs(got[k]! - w) <= 1e-5 * Math.max(1, Math.abs(w)),
        `${what}: output ${k} is ${got[k]}, TF.js computes ${w}`,
      );
    assert.ok(
      want.some((w) => Math.abs(w) > 1e-3),
      `${what}: the comparison is not of zeros`,
    );
  }
});

async function publishDir(dir: string, handle: string) {
  const entries = fs.readdirSync(dir).map((rel) => {
    const bytes = fs.readFileSync(path.join(dir, rel));
    return { path: rel, size: bytes.length, open: () => Readable.from([bytes]) };
  });
  const primary = await store.put(packTarGz(entries));
  // Published as the mirror and upload paths label a model.json without a format field.
  return (
    await publishVersion({
      handle,
      version: 1,
      format: "tfjs_graph",
      source: { kind: "upload", userId: null },
      primary,
      files: [],
      actor: null,
    })
  ).id;
}

test("Keras 2.2 exports (MobileNetV2- and InceptionV3-shaped layouts) are validated, executed, with benchmark rows", async () => {
  for (const [i, [kind, layout]] of (
    [
      ["residual", "keras-2.2"],
      ["sequential", "keras-2.2-list"],
    ] as const
  ).entries()) {
    const m = await write(kind, layout);
    const id = await publishDir(m.dir, `internal/layers/k${i}`);
    const r = await validateVersion({ versionId: id, execution: { minRuns: 5, maxBenchMs: 50 } });
    assert.equal(r.status, "validated", `${kind} ${layout}: ${r.verdict?.error ?? r.result.error}`);
    assert.equal(r.level, "executed");
    const run = await t.handle.prisma.validationRun.findFirstOrThrow({ where: { versionId: id } });
    assert.equal(run.format, "tfjs_layers");
    assert.equal(run.level, "executed");
    assert.equal(run.error, null);
    assert.deepEqual(
      (run.execution as { outputs: Array<{ shape: number[] }> }).outputs.map((o) => o.shape),
      [m.output.shape],
    );
    const benches = await t.handle.prisma.benchmark.findMany({ where: { versionId: id }, orderBy: { batch: "asc" } });
    assert.deepEqual(
      benches.map((b) => b.batch),
      [1, 8],
    );
    for (const b of benches) {
      assert.ok(b.samplesMs.length >= 5 && b.p50Ms > 0 && b.throughputPerSec > 0);
      assert.equal(Number(b.paramCount), m.model.countParams());
    }
  }
});

/** Drops the manifest's last weight (and its bytes from the last shard). */
function dropLastWeight(m: WrittenLayersModel): string {
  const json = readJson(m.dir);
  const group = json.weightsManifest[0]!;
  const dropped = group.weights.pop()!;
  const shard = path.join(m.dir, group.paths.at(-1)!);
  fs.truncateSync(shard, fs.statSync(shard).size - dropped.shape.reduce((a, b) => a * b, 1) * 4);
  writeJson(m.dir, json);
  return dropped.name;
}

test("a layers model whose weights are missing or do not fit fails, naming what is wrong", async () => {
  const run = (dir: string) =>
    executeModel(dir, validateDirectory(dir).format, { ...limits, backend: "wasm", minRuns: 1, maxBenchMs: 1 });
  const noShard = await write("residual", "keras-2.2");
  fs.rmSync(path.join(noShard.dir, "group1-shard2of2.bin"));
  const s1 = validateDirectory(noShard.dir);
  assert.equal(s1.status, "failed");
  assert.equal(s1.format, "tfjs_layers");
  assert.equal(s1.error, 'weightsManifest group 0: shard "group1-shard2of2.bin" is missing');

  const noManifest = await write("sequential", "keras-2.2");
  const { weightsManifest: _w, ...topologyOnly } = readJson(noManifest.dir);
  writeJson(noManifest.dir, topologyOnly);
  assert.match(
    validateDirectory(noManifest.dir).error!,
    /^model.json has no weightsManifest: the model's weights are missing/,
  );

  for (const layout of ["tfjs", "keras-2.2"] as const) {
    const short = await write("residual", layout);
    const name = dropLastWeight(short);
    assert.equal(validateDirectory(short.dir).status, "passed", "the shards hold what the manifest says");
    const v = await run(short.dir);
    assert.equal(v.status, "failed", layout);
    assert.equal(v.level, "static", "never 'executed' for a model that did not run");
    assert.equal(
      v.error,
      `the layers model's weights do not match its topology: 1 of ${short.model.weights.length} weights are not set: ${name}`,
      layout,
    );
  }

  const empty = await write("sequential", "keras-2.2-list");
  const json = readJson(empty.dir);
  json.weightsManifest = [];
  writeJson(empty.dir, json);
  for (const p of fs.readdirSync(empty.dir)) if (p.endsWith(".bin")) fs.rmSync(path.join(empty.dir, p));
  const v = await run(empty.dir);
  assert.equal(v.status, "failed");
  assert.match(
    v.error!,
    /^the layers model's weights do not match its topology: 4 of 4 weights are not set: seq_hidden\/kernel,seq_hidden\/bias,seq_out\/kernel,seq_out\/bias/,
  );

  const transposed = await write("residual", "tfjs");
  const tj = readJson(transposed.dir);
  const kernel = tj.weightsManifest[0]!.weights.find((w) => w.name === "probs/kernel")!;
  kernel.shape = [...kernel.shape].reverse();
  writeJson(transposed.dir, tj);
  const tv = await run(transposed.dir);
  assert.equal(tv.status, "failed");
  assert.match(
    tv.error!,
    /^the layers model's weights do not match its topology: Shape mismatch: \[4,5\] vs\. \[5,4\]/,
  );
});

test("a garbage layers topology fails before it runs; a layer class TF.js lacks leaves the model at level static", async () => {
  const garbage = await write("residual", "keras-2.2");
  const json = readJson(garbage.dir);
  const config = (
    json.modelTopology.model_config as { config: { layers: Array<{ name: string; inbound_nodes: unknown[] }> } }
  ).config;
  config.layers.find((l) => l.name === "block_add")!.inbound_nodes = [
    [
      ["stem_relu6", 0, 0, {}],
      ["block_projekt", 0, 0, {}],
    ],
  ];
  writeJson(garbage.dir, json);
  const id = await publishDir(garbage.dir, "internal/layers/garbage");
  const r = await validateVersion({ versionId: id });
  assert.equal(r.status, "failed");
  assert.equal(r.level, "static");
  assert.equal(r.result.format, "tfjs_layers");
  assert.equal(
    r.result.error,
    'model.json: modelTopology.model_config: layer "block_add" takes its input from "block_projekt", which is not a layer of the model',
  );

  const notJson = await write("sequential", "tfjs");
  const nj = readJson(notJson.dir);
  nj.modelTopology = { keras_version: "2.2.4", backend: "tensorflow", model_config: "not a config" };
  writeJson(notJson.dir, nj);
  assert.match(
    validateDirectory(notJson.dir).error!,
    /^model.json: modelTopology.model_config: not a Keras model config/,
  );

  const custom = await write("residual", "keras-2.2");
  const cj = readJson(custom.dir);
  const layer = (
    cj.modelTopology.model_config as { config: { layers: Array<{ name: string; class_name: string }> } }
  ).config.layers.find((l) => l.name === "block_add")!;
  layer.class_name = "MyResidualAdd";
  writeJson(custom.dir, cj);
  const v = await executeModel(custom.dir, validateDirectory(custom.dir).format, { ...limits, backend: "wasm" });
  assert.equal(v.status, "passed", v.error);
  assert.equal(v.level, "static");
  assert.equal(v.findings.length, 1, JSON.stringify(v.findings));
  assert.equal(
    v.findings[0]!.message,
    "not executed by tfjs: the layers model uses the layer 'MyResidualAdd', which TF.js does not implement (a custom or Python-only class)",
  );
  assert.equal(v.findings[0]!.op, "MyResidualAdd");
});
