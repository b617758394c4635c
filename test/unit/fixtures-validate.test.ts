// Every fixture in ../shared/fixtures through the static validator (the same entry points the job
// uses), with the status and key signature facts its README lists.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturePath } from "../helpers/fixtures.ts";
import { validateDirectory, validateTfliteBytes, type StaticResult } from "../../lib/validation/static.ts";
import { extractArchive } from "../../lib/archive/extract.ts";

type Sig = {
  key: string;
  inputs: Array<{ name: string; dtype: string; shape: number[] | null }>;
  outputs: Array<{ name: string }>;
};
const sigs = (r: StaticResult) => (r.signatures as Array<{ signatures: Sig[] }>).flatMap((m) => m.signatures);
const first = (r: StaticResult, key = "serving_default") => sigs(r).find((s) => s.key === key)!;

const SAVED: Array<[string[], StaticResult["format"], StaticResult["status"], (r: StaticResult) => void]> = [
  [
    ["tfjs-node-saved_model", "times_three_float"],
    "saved_model",
    "passed",
    (r) =>
      assert.deepEqual(first(r).inputs, [{ name: "x", tensor: "serving_default_x:0", dtype: "DT_FLOAT", shape: [] }]),
  ],
  [
    ["tfjs-node-saved_model", "times_two_int"],
    "saved_model",
    "passed",
    (r) => assert.equal(first(r).inputs[0]!.dtype, "DT_INT32"),
  ],
  [
    ["tfjs-node-saved_model", "int64_multiply"],
    "saved_model",
    "passed",
    (r) => assert.deepEqual(first(r).inputs[0]!.shape, [2]),
  ],
  [
    ["tfjs-node-saved_model", "uint8_multiply"],
    "saved_model",
    "passed",
    (r) => assert.equal(first(r).inputs[0]!.dtype, "DT_UINT8"),
  ],
  [
    ["tfjs-node-saved_model", "model_multi_output"],
    "saved_model",
    "passed",
    (r) =>
      assert.deepEqual(
        first(r)
          .outputs.map((o) => o.name)
          .sort(),
        ["output_0", "output_1"],
      ),
  ],
  [
    ["tfjs-node-saved_model", "model_single_input_multi_output"],
    "saved_model",
    "passed",
    (r) => assert.equal(first(r).outputs.length, 2),
  ],
  [
    ["tfjs-node-saved_model", "module_with_multiple_signatures"],
    "saved_model",
    "passed",
    (r) =>
      assert.deepEqual(
        sigs(r)
          .map((s) => s.key)
          .sort(),
        ["serving_default", "timestwo"],
      ),
  ],
  [
    ["serving-saved_model_half_plus_two_tf2_cpu", "00000123"],
    "saved_model",
    "passed",
    (r) => assert.equal(sigs(r).length, 6),
  ],
  [
    ["serving-saved_model_half_plus_two_cpu", "00000123"],
    "saved_model",
    "passed",
    (r) => assert.equal(sigs(r).length, 5),
  ],
  [
    ["serving-saved_model_half_plus_three", "00000123"],
    "saved_model",
    "passed",
    (r) => assert.equal(first(r).inputs[0]!.name, "x"),
  ],
  [
    ["serving-saved_model_counter", "00000123"],
    "saved_model",
    "passed",
    (r) => assert.ok(sigs(r).some((s) => s.inputs.length === 0)),
  ],
  [["hub-half_plus_two_v1_extracted"], "tf1_hub", "passed", (r) => assert.equal(first(r, "default").key, "default")],
  [["hub-module_v1_mini"], "tf1_hub", "passed", (r) => assert.equal(first(r, "default").key, "default")],
  [
    ["hub-saved_model_v2_mini"],
    "saved_model",
    "passed",
    (r) => assert.equal(first(r).inputs[0]!.shape, null, "unknown rank"),
  ],
  [
    ["mlperf-tiny-kws-dscnn", "model"],
    "saved_model",
    "passed",
    (r) => assert.deepEqual(first(r).inputs[0]!.shape, [-1, 49, 10, 1]),
  ],
  [
    ["tfnet-lstm-sequential", "model"],
    "saved_model",
    "passed",
    (r) => assert.deepEqual(first(r).inputs[0]!.shape, [-1, 5, 3]),
  ],
  [
    ["tfrust-keras-multi-input", "model"],
    "saved_model",
    "passed",
    (r) =>
      assert.deepEqual(
        first(r)
          .inputs.map((i) => i.name)
          .sort(),
        ["test_in1", "test_in2"],
      ),
  ],
  [
    ["mlnet-cifar-cnn", "model"],
    "saved_model",
    "passed",
    (r) => assert.ok(sigs(r).some((s) => s.inputs.some((i) => JSON.stringify(i.shape) === "[-1,32,32,3]"))),
  ],
  [
    ["tfex-fake-effdet-lite0-hub", "model"],
    "saved_model",
    "passed",
    (r) => {
      assert.deepEqual(first(r).inputs[0]!.shape, [-1, 320, 320, 3]);
      assert.equal(first(r).outputs.length, 10);
    },
  ],
  [
    ["tfx-chicago-taxi-keras", "model"],
    "saved_model",
    "passed",
    (r) => assert.deepEqual(first(r).inputs[0]!.dtype, "DT_STRING"),
  ],
  [
    ["tfnet-simple-auto-compile", "model"],
    "saved_model",
    "quarantined",
    (r) => assert.ok(r.findings.some((f) => f.op === "PrintV2")),
  ],
  [
    ["tftext-segmenter-hub-module", "model"],
    "tf1_hub",
    "passed",
    (r) =>
      assert.deepEqual(first(r, "default").inputs, [
        { name: "text", tensor: "Placeholder:0", dtype: "DT_STRING", shape: [-1] },
      ]),
  ],
];

for (const [p, format, status, check] of SAVED) {
  test(`fixture ${p.join("/")} validates as ${format} (${status})`, () => {
    const r = validateDirectory(fixturePath(...p));
    assert.equal(r.error, undefined);
    assert.equal(r.format, format);
    assert.equal(r.status, status);
    check(r);
  });
}

test("the compressed TF1 Hub fixture validates after safe extraction", async () => {
  const x = await extractArchive(
    fs.createReadStream(fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz")),
  );
  try {
    const r = validateDirectory(x.dir);
    assert.equal(r.status, "passed");
    assert.equal(r.format, "tf1_hub");
  } finally {
    await x.cleanup();
  }
});

test("TF.js fixtures validate with their inputs", () => {
  for (const [dir, json, shape] of [
    ["human-blazeface", "blazeface.json", [1, 256, 256, 3]],
    ["tfjs-rn-graph-model", "model.json", [-1, 10]],
    ["tfjs-graph-model-matmul", "model.json", null],
  ] as const) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-fx-"));
    try {
      for (const f of fs.readdirSync(fixturePath(dir)))
        if (f !== "LICENSE" && (!f.endsWith(".json") || f === json))
          fs.copyFileSync(fixturePath(dir, f), path.join(tmp, f === json ? "model.json" : f));
      const r = validateDirectory(tmp);
      assert.equal(r.status, "passed", `${dir}: ${r.error}`);
      assert.equal(r.format, "tfjs_graph");
      if (shape) assert.deepEqual((r.signatures as { inputs: Array<{ shape: number[] }> }).inputs[0]!.shape, shape);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
});

test("TFLite fixtures validate", () => {
  for (const f of [
    ["tfjs-tflite-add4", "add4.tflite"],
    ["serving-half_plus_two_tflite", "model.tflite"],
  ] as const) {
    const r = validateTfliteBytes(fs.readFileSync(fixturePath(...f)));
    assert.equal(r.status, "passed", r.error);
    assert.equal(r.format, "tflite");
  }
});
