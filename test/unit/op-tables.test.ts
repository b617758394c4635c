// The generated op tables: the TF.js list matches the installed @tensorflow/tfjs-converter (an
// upgrade that changes it fails here until `node scripts/gen-op-tables.mjs <ops.pbtxt>` is re-run),
// spot checks against TensorFlow's real op registry, and the generator run on the vendored excerpt
// of that registry (test/fixtures/tensorflow/ops.pbtxt) reproduces the committed entries it covers.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  OP_DEFS,
  TFJS_OPS,
  TFJS_CONVERTER_VERSION,
  TF_VERSION,
} from "../../lib/formats/savedmodel/op-tables.generated.ts";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const b64 = (s: string) => Buffer.from(s).toString("base64");

test("TFJS_OPS is exactly what the installed tfjs-converter maps", async () => {
  const dir = path.dirname(require.resolve("@tensorflow/tfjs-converter/package.json"));
  const version = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
  assert.equal(
    TFJS_CONVERTER_VERSION,
    version,
    "re-run scripts/gen-op-tables.mjs after upgrading @tensorflow/tfjs-converter",
  );
  const names = new Set<string>();
  const listDir = path.join(dir, "dist/operations/op_list");
  for (const f of fs.readdirSync(listDir).filter((f) => f.endsWith(".js"))) {
    const m = (await import(pathToFileURL(path.join(listDir, f)).href)) as { json?: Array<{ tfOpName: string }> };
    for (const e of m.json ?? []) names.add(e.tfOpName);
  }
  assert.deepEqual([...TFJS_OPS], [...names].sort(), "re-run scripts/gen-op-tables.mjs: the TF.js op list changed");
  for (const op of [
    "Conv2D",
    "MatMul",
    "FusedBatchNormV3",
    "StatelessWhile",
    "TensorListReserve",
    "DepthwiseConv2dNative",
  ])
    assert.ok(TFJS_OPS.includes(op), op);
  assert.ok(!TFJS_OPS.includes("ParseExampleV2"));
});

test("op definitions from TensorFlow's registry: outputs and defaults", () => {
  assert.equal(TF_VERSION, "2.21");
  assert.ok(Object.keys(OP_DEFS).length > 1500);
  const conv = OP_DEFS.Conv2D!;
  assert.deepEqual(conv.defaults.dilations, { list: { i: ["1", "1", "1", "1"] } });
  assert.deepEqual(conv.defaults.data_format, { s: b64("NHWC") });
  assert.deepEqual(conv.defaults.explicit_paddings, { list: {} });
  assert.deepEqual(conv.defaults.use_cudnn_on_gpu, { b: true });
  const bn = OP_DEFS.FusedBatchNormV3!;
  assert.deepEqual(
    bn.outputs.map((o) => o.name),
    ["y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"],
  );
  assert.ok(Math.abs((bn.defaults.epsilon as { f: number }).f - 0.0001) < 1e-9);
  assert.deepEqual(bn.defaults.data_format, { s: b64("NHWC") });
  assert.deepEqual(bn.defaults.is_training, { b: true });
  assert.deepEqual(OP_DEFS.Split!.outputs, [{ name: "output", numberAttr: "num_split" }]);
  assert.deepEqual(OP_DEFS.StatefulPartitionedCall!.outputs, [{ name: "output", typeListAttr: "Tout" }]);
  assert.equal(OP_DEFS.StatefulPartitionedCall!.stateful, true);
  assert.deepEqual(OP_DEFS.StatelessWhile!.outputs, [{ name: "output", typeListAttr: "T" }]);
  assert.deepEqual(OP_DEFS.MaxPool!.defaults.data_format, { s: b64("NHWC") });
  assert.ok(OP_DEFS.ParseExampleV2);
  assert.equal(OP_DEFS.TokenizerFromLogits, undefined, "a TF.Text custom op is not in the core registry");
  // Non-finite float defaults survive as literals; the one tensor-valued default (ImageSummary's bad_color) is left out.
  assert.deepEqual(OP_DEFS.DebugNumericSummary!.defaults.lower_bound, { f: -Infinity });
  assert.deepEqual(OP_DEFS.DebugNumericSummary!.defaults.upper_bound, { f: Infinity });
  assert.equal(OP_DEFS.ImageSummary!.defaults.bad_color, undefined);
  assert.deepEqual(OP_DEFS.ImageSummary!.defaults.max_images, { i: "3" });
});

const COMMITTED = path.join(root, "lib/formats/savedmodel/op-tables.generated.ts");
const EXCERPT = path.join(root, "test/fixtures/tensorflow/ops.pbtxt");

/** Runs scripts/gen-op-tables.mjs on `input` twice, checks both runs agree, and returns the output. */
function generate(input: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-optables-"));
  const run = (out: string) => {
    execFileSync(process.execPath, [path.join(root, "scripts/gen-op-tables.mjs"), input, "--out", out], {
      cwd: root,
      stdio: ["ignore", "ignore", "pipe"],
    });
    return fs.readFileSync(out, "utf8");
  };
  try {
    const first = run(path.join(dir, "a.ts"));
    assert.equal(run(path.join(dir, "b.ts")), first, "two runs of scripts/gen-op-tables.mjs differ");
    return first;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("the generator run on the vendored ops.pbtxt excerpt reproduces the committed table's lines for those ops", () => {
  const generated = generate(EXCERPT).split("\n");
  const entry = /^ {2}"([^"]+)": /;
  const ops = new Set(generated.map((l) => entry.exec(l)?.[1]).filter((op): op is string => op !== undefined));
  const inExcerpt = [...fs.readFileSync(EXCERPT, "utf8").matchAll(/^op \{\n {2}name: "([^"]+)"$/gm)].map((m) => m[1]);
  assert.equal(ops.size, inExcerpt.length, "one OP_DEFS entry per op of the excerpt");
  assert.ok(ops.size > 200);
  for (const op of ["Conv2D", "FusedBatchNormV3", "StatelessWhile", "ImageSummary", "DebugNumericSummary"])
    assert.ok(ops.has(op), op);
  // The committed file less the entries of ops the excerpt leaves out: the header, the types, both
  // versions, TFJS_OPS and every entry for an excerpt op must be exactly what the generator wrote.
  const committed = fs
    .readFileSync(COMMITTED, "utf8")
    .split("\n")
    .filter((l) => !entry.test(l) || ops.has(entry.exec(l)![1]!));
  const at = committed.findIndex((l, i) => l !== generated[i]);
  assert.ok(
    at === -1 && committed.length === generated.length,
    `op-tables.generated.ts and scripts/gen-op-tables.mjs disagree at line ${at} of ${committed.length}:\n  committed: ${committed[at]}\n  generated: ${generated[at]}\n` +
      "re-run node scripts/gen-op-tables.mjs <TF 2.21 ops.pbtxt> (see its header), or fix the generator",
  );
});

test("the committed table is what the generator produces from the whole registry", (t) => {
  const input = process.env.HUBKEEP_OPS_PBTXT ?? "/tmp/opdefs/ops.pbtxt";
  if (!fs.existsSync(input)) {
    t.skip(
      `the whole TF 2.21 ops.pbtxt is not at ${input} (set HUBKEEP_OPS_PBTXT; the excerpt test above checks the ops it holds)`,
    );
    return;
  }
  assert.equal(
    generate(input),
    fs.readFileSync(COMMITTED, "utf8"),
    `lib/formats/savedmodel/op-tables.generated.ts is stale: re-run node scripts/gen-op-tables.mjs ${input}`,
  );
});
