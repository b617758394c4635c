// The generated op tables: the TF.js list matches the installed @tensorflow/tfjs-converter (an
// upgrade that changes it fails here until `node scripts/gen-op-tables.mjs <ops.pbtxt>` is re-run),
// and spot checks against TensorFlow's real op registry.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { OP_DEFS, TFJS_OPS, TFJS_CONVERTER_VERSION, TF_VERSION } from "../../lib/formats/savedmodel/op-tables.generated.ts";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const b64 = (s: string) => Buffer.from(s).toString("base64");

test("TFJS_OPS is exactly what the installed tfjs-converter maps", async () => {
  const dir = path.dirname(require.resolve("@tensorflow/tfjs-converter/package.json"));
  const version = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
  assert.equal(TFJS_CONVERTER_VERSION, version, "re-run scripts/gen-op-tables.mjs after upgrading @tensorflow/tfjs-converter");
  const names = new Set<string>();
  const listDir = path.join(dir, "dist/operations/op_list");
  for (const f of fs.readdirSync(listDir).filter((f) => f.endsWith(".js"))) {
    const m = (await import(pathToFileURL(path.join(listDir, f)).href)) as { json?: Array<{ tfOpName: string }> };
    for (const e of m.json ?? []) names.add(e.tfOpName);
  }
  assert.deepEqual([...TFJS_OPS], [...names].sort(), "re-run scripts/gen-op-tables.mjs: the TF.js op list changed");
  for (const op of ["Conv2D", "MatMul", "FusedBatchNormV3", "StatelessWhile", "TensorListReserve", "DepthwiseConv2dNative"]) assert.ok(TFJS_OPS.includes(op), op);
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
  assert.deepEqual(bn.outputs.map((o) => o.name), ["y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"]);
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

test("the generator is deterministic and the committed table is what it produces", (t) => {
  const input = process.env.HUBKEEP_OPS_PBTXT ?? "/tmp/opdefs/ops.pbtxt";
  if (!fs.existsSync(input)) {
    t.skip(`TensorFlow's ops.pbtxt not present at ${input} (expected in CI, which has no copy; set HUBKEEP_OPS_PBTXT to check): regeneration not checked`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-optables-"));
  const run = (out: string) => {
    execFileSync(process.execPath, [path.join(root, "scripts/gen-op-tables.mjs"), input, "--out", out], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
    return fs.readFileSync(out);
  };
  try {
    const first = run(path.join(dir, "a.ts"));
    const second = run(path.join(dir, "b.ts"));
    assert.ok(first.equals(second), "two runs of scripts/gen-op-tables.mjs differ");
    const committed = fs.readFileSync(path.join(root, "lib/formats/savedmodel/op-tables.generated.ts"));
    assert.ok(first.equals(committed), `lib/formats/savedmodel/op-tables.generated.ts is stale: re-run node scripts/gen-op-tables.mjs ${input}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
