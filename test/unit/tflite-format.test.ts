// The TFLite flatbuffer reader (lib/formats/tflite.ts) on the real fixtures, MediaPipe's models (from
// node_modules) and models written here: tensors with their names, types, dynamic dimensions and
// quantization, signature defs, custom ops and parameters; what the static check records; and that
// no corruption makes the reader throw anything but its own error.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { inspectTflite, readTfliteModel, TfliteFormatError } from "../../lib/formats/tflite.ts";
import { validateTfliteBytes } from "../../lib/validation/static.ts";
import { readSignatures } from "../../lib/validation/evidence.ts";
import { quantizationText, signaturesOf } from "../../lib/models/signatures.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { dequantizeModel, unknownCustomOpModel } from "../helpers/tflite-models.ts";

const require = createRequire(import.meta.url);
const mediapipe = (pkg: string, file: string) =>
  path.join(path.dirname(require.resolve(`@mediapipe/${pkg}/package.json`)), file);
const tensors = (ts: Array<{ name: string; dtype: string; shape: number[] }>) =>
  ts.map((t) => `${t.name}:${t.dtype}[${t.shape.join(",")}]`);

test("add4 and half_plus_two: tensors, dynamic dimensions and signature defs", () => {
  const add4 = readTfliteModel(fs.readFileSync(fixturePath("tfjs-tflite-add4", "add4.tflite")));
  assert.equal(add4.schemaVersion, 3);
  assert.deepEqual(tensors(add4.inputs), [
    "serving_default_input_1:0:float32[-1,4]",
    "serving_default_input_2:0:float32[-1,4]",
  ]);
  assert.deepEqual(tensors(add4.outputs), ["PartitionedCall:0:float32[-1,4]"]);
  assert.deepEqual(add4.signatures, [
    {
      key: "serving_default",
      inputs: [
        { name: "input_1", tensor: 0 },
        { name: "input_2", tensor: 1 },
      ],
      outputs: [{ name: "add_1", tensor: 2 }],
    },
  ]);
  assert.deepEqual([add4.customOps, add4.operators, add4.parameterCount], [[], 1, 0]);

  const hpt = readTfliteModel(fs.readFileSync(fixturePath("serving-half_plus_two_tflite", "model.tflite")));
  assert.deepEqual(tensors(hpt.inputs), ["x:float32[1,1]"]);
  assert.deepEqual(tensors(hpt.outputs), ["y:float32[1,1]"]);
  assert.equal(hpt.parameterCount, 2, "the constants a = 0.5 and b = 2");
  assert.equal(hpt.operators, 2);
});

test("MediaPipe models: shapes, and the custom op of selfie segmentation", () => {
  const face = readTfliteModel(fs.readFileSync(mediapipe("face_detection", "face_detection_short_range.tflite")));
  assert.deepEqual(tensors(face.inputs), ["input:float32[1,128,128,3]"]);
  assert.deepEqual(tensors(face.outputs), ["regressors:float32[1,896,16]", "classificators:float32[1,896,1]"]);
  assert.deepEqual(face.customOps, []);
  assert.ok(face.parameterCount > 100_000, String(face.parameterCount));
  const hands = readTfliteModel(fs.readFileSync(mediapipe("hands", "hand_landmark_full.tflite")));
  assert.deepEqual(tensors(hands.inputs), ["input_1:float32[1,224,224,3]"]);
  assert.equal(hands.outputs.length, 4);
  const selfie = readTfliteModel(fs.readFileSync(mediapipe("selfie_segmentation", "selfie_segmentation.tflite")));
  assert.deepEqual(selfie.customOps, ["Convolution2DTransposeBias"]);
  assert.deepEqual(tensors(selfie.outputs), ["activation_10:float32[1,256,256,1]"]);
});

test("quantization and custom ops of written models are read", () => {
  const q = readTfliteModel(dequantizeModel());
  assert.deepEqual(
    q.inputs.map((t) => [t.name, t.dtype, t.quantization]),
    [
      ["q_u8", "uint8", { scale: [0.5], zeroPoint: [10], axis: 0 }],
      ["q_i8", "int8", { scale: [0.25], zeroPoint: [-3], axis: 0 }],
    ],
  );
  assert.deepEqual(
    q.outputs.map((t) => [t.name, t.dtype, t.quantization]),
    [
      ["real_u8", "float32", undefined],
      ["real_i8", "float32", undefined],
    ],
  );
  assert.deepEqual(readTfliteModel(unknownCustomOpModel("MyOp")).customOps, ["MyOp"]);
});

test("the static check records the tensors as the version's signatures, and pages read them back", () => {
  const r = validateTfliteBytes(dequantizeModel());
  assert.equal(r.status, "passed", r.error);
  const stored = readSignatures(JSON.parse(JSON.stringify(r.signatures)));
  assert.ok(stored && !Array.isArray(stored) && "inputs" in stored && "schemaVersion" in stored);
  assert.deepEqual(stored.inputs[0], {
    name: "q_u8",
    index: 0,
    dtype: "uint8",
    shape: [1, 6],
    quantization: { scale: [0.5], zeroPoint: [10], axis: 0 },
  });
  assert.deepEqual(signaturesOf({ signatures: r.signatures }), [
    {
      key: "model",
      inputs: [
        { name: "q_u8", dtype: "uint8", shape: [1, 6], quantization: { scale: [0.5], zeroPoint: [10], axis: 0 } },
        { name: "q_i8", dtype: "int8", shape: [1, 6], quantization: { scale: [0.25], zeroPoint: [-3], axis: 0 } },
      ],
      outputs: [
        { name: "real_u8", dtype: "float32", shape: [1, 6] },
        { name: "real_i8", dtype: "float32", shape: [1, 6] },
      ],
    },
  ]);
  // The model page says it in words.
  assert.equal(quantizationText({ scale: [0.25], zeroPoint: [-3], axis: 0 }), "scale 0.2500, zero point -3");
  assert.equal(
    quantizationText({ scale: [0.1, 0.2, 0.3], zeroPoint: [0, 0, 0], axis: 3 }),
    "per-axis on axis 3: 3 scales and zero points",
  );
  const selfie = validateTfliteBytes(fs.readFileSync(mediapipe("selfie_segmentation", "selfie_segmentation.tflite")));
  assert.deepEqual((selfie.signatures as { customOps: string[] }).customOps, ["Convolution2DTransposeBias"]);
  assert.equal(selfie.parameterCount, 106407);
  // Rows written before the tensors were read still read back as they were.
  assert.deepEqual(readSignatures({ schemaVersion: 3 }), { schemaVersion: 3 });
});

test("a file whose header holds but whose tables do not passes statically, saying why its tensors are unread", () => {
  const buf = fs.readFileSync(mediapipe("face_detection", "face_detection_short_range.tflite"));
  const info = inspectTflite(buf.subarray(0, buf.length >> 1));
  assert.equal(info.details, null);
  assert.match(info.detailsError!, /runs past the end of the 114516-byte file/);
  const r = validateTfliteBytes(buf.subarray(0, buf.length >> 1));
  assert.equal(r.status, "passed", "the runtime, which loads it, is the judge");
  assert.deepEqual(r.signatures, { schemaVersion: 3 });
  assert.equal(validateTfliteBytes(Buffer.alloc(64)).status, "failed");
});

test("no truncation or corruption makes the reader throw anything but TfliteFormatError", () => {
  const sources = [
    fs.readFileSync(fixturePath("tfjs-tflite-add4", "add4.tflite")),
    fs.readFileSync(fixturePath("serving-half_plus_two_tflite", "model.tflite")),
    dequantizeModel(),
    unknownCustomOpModel(),
  ];
  let seed = 7;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  let refused = 0;
  let cases = 0;
  const attempt = (b: Buffer) => {
    cases++;
    try {
      readTfliteModel(b);
    } catch (err) {
      if (!(err instanceof TfliteFormatError)) throw new Error(`unexpected ${(err as Error).stack}`);
      refused++;
    }
  };
  for (const src of sources) {
    for (let n = 0; n < src.length; n += 3) attempt(src.subarray(0, n));
    for (let k = 0; k < 400; k++) {
      const b = Buffer.from(src);
      for (let j = 0; j < 1 + (k % 4); j++) b[8 + (next() % (b.length - 8))] = next() & 0xff;
      attempt(b);
    }
  }
  assert.ok(refused > cases / 4, `${refused} of ${cases} corruptions refused`);
});
