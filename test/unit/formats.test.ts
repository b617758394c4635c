// Static checks of TF.js and TFLite fixtures, and corruptions of them caught by name.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { inspectTfjsModel, checkManifestPath, detectTfjsFormat } from "../../lib/formats/tfjs.ts";
import { inspectTflite } from "../../lib/formats/tflite.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const size = (...p: string[]) => fs.statSync(fixturePath(...p)).size;
const read = (...p: string[]) => fs.readFileSync(fixturePath(...p), "utf8");

test("TF.js fixtures: graph models with matching shards", () => {
  const blaze = inspectTfjsModel(read("human-blazeface", "blazeface.json"), {
    "blazeface.bin": size("human-blazeface", "blazeface.bin"),
  });
  assert.equal(blaze.format, "tfjs_graph");
  assert.deepEqual(blaze.shards, ["blazeface.bin"]);
  assert.deepEqual(
    blaze.inputs.map((i) => i.shape),
    [[1, 256, 256, 3]],
  );
  assert.equal(blaze.inputs[0]!.dtype, "float");
  const mm = inspectTfjsModel(read("tfjs-graph-model-matmul", "model.json"), {
    "weights.bin": size("tfjs-graph-model-matmul", "weights.bin"),
  });
  assert.equal(mm.parameterCount, 4);
  const rn = inspectTfjsModel(read("tfjs-rn-graph-model", "model.json"), {
    "group1-shard1of1.bin": size("tfjs-rn-graph-model", "group1-shard1of1.bin"),
  });
  assert.equal(rn.parameterCount, 11);
  assert.deepEqual(
    rn.inputs.map((i) => i.shape),
    [[-1, 10]],
  );
});

test("TF.js corruptions are named: truncated shard, missing shard, wrong manifest, escaping path", () => {
  const json = read("tfjs-rn-graph-model", "model.json");
  assert.throws(
    () => inspectTfjsModel(json, { "group1-shard1of1.bin": 40 }),
    /shards hold 40 bytes but the weights need 44/,
  );
  assert.throws(() => inspectTfjsModel(json, {}), /shard "group1-shard1of1.bin" is missing/);
  const wrong = JSON.parse(json);
  wrong.weightsManifest[0].weights[1].shape = [10, 2];
  assert.throws(() => inspectTfjsModel(JSON.stringify(wrong), { "group1-shard1of1.bin": 44 }), /need 84/);
  const escape = JSON.parse(json);
  escape.weightsManifest[0].paths = ["../../etc/passwd"];
  assert.throws(
    () => inspectTfjsModel(JSON.stringify(escape), { "../../etc/passwd": 44 }),
    /weightsManifest path "\.\.\/\.\.\/etc\/passwd" has a "\.\." or "\." segment/,
  );
  const schema = JSON.parse(json);
  schema.weightsManifest[0].weights[0].dtype = "float128";
  assert.throws(
    () => inspectTfjsModel(JSON.stringify(schema), { "group1-shard1of1.bin": 44 }),
    /model.json: weightsManifest\.0\.weights\.0\.dtype/,
  );
  assert.throws(() => inspectTfjsModel("{nope", {}), /not valid JSON/);
  for (const p of ["https://evil.example/w.bin", "/etc/passwd", "a/b.bin", "%2e%2e", "..\\x", ""])
    assert.throws(() => checkManifestPath(p), /weightsManifest path/, p);
});

test("quantized weights count their quantized size", () => {
  const model = {
    format: "graph-model",
    modelTopology: { node: [] },
    weightsManifest: [
      {
        paths: ["q.bin"],
        weights: [
          { name: "w", shape: [10, 10], dtype: "float32", quantization: { dtype: "uint8", scale: 0.1, min: 0 } },
        ],
      },
    ],
  };
  assert.equal(inspectTfjsModel(JSON.stringify(model), { "q.bin": 100 }).parameterCount, 100);
  assert.throws(() => inspectTfjsModel(JSON.stringify(model), { "q.bin": 400 }), /need 100/);
});

// A Keras 2.2 functional export as tensorflowjs_converter wrote it: x -> `layers` (each Dense) -> outputs.
function kerasFunctional(layers: Array<[string, string[]]>, outputLayers: unknown = [["b", 0, 0]]): string {
  const dense = ([name, from]: [string, string[]]) => ({
    name,
    class_name: "Dense",
    config: { name, units: 2 },
    inbound_nodes: from.length ? [from.map((f) => [f, 0, 0, {}])] : [],
  });
  const input = {
    name: "x",
    class_name: "InputLayer",
    config: { name: "x", batch_input_shape: [null, 2], dtype: "float32", sparse: false },
    inbound_nodes: [],
  };
  const config = {
    name: "m",
    layers: [input, ...layers.map(dense)],
    input_layers: [["x", 0, 0]],
    output_layers: outputLayers,
  };
  return JSON.stringify({
    modelTopology: {
      keras_version: "2.2.4",
      backend: "tensorflow",
      model_config: { class_name: "Model", config },
      training_config: { loss: "mse" },
    },
    weightsManifest: [],
  });
}

test("TF.js layers or graph is read from the topology, as the TF.js loaders read it", () => {
  assert.equal(detectTfjsFormat({ modelTopology: { class_name: "Sequential", config: [] } }), "tfjs_layers");
  assert.equal(
    detectTfjsFormat({
      modelTopology: { keras_version: "2.2.4", backend: "tensorflow", model_config: { class_name: "Model" } },
    }),
    "tfjs_layers",
  );
  assert.equal(
    detectTfjsFormat({ format: "graph-model", modelTopology: { model_config: { class_name: "Model" } } }),
    "tfjs_layers",
    "the topology wins over the format field",
  );
  assert.equal(detectTfjsFormat({ modelTopology: { node: [], versions: { producer: 1 } } }), "tfjs_graph");
  assert.equal(detectTfjsFormat({ format: "layers-model", modelTopology: {} }), "tfjs_layers");
  assert.equal(detectTfjsFormat({ modelTopology: {} }), null);
  const info = inspectTfjsModel(
    kerasFunctional([
      ["a", ["x"]],
      ["b", ["a", "x"]],
    ]),
    {},
  );
  assert.equal(info.format, "tfjs_layers");
  assert.deepEqual(info.inputs, [{ name: "x", dtype: "float32", shape: [-1, 2] }]);
  assert.throws(
    () => inspectTfjsModel(JSON.stringify({ modelTopology: {}, weightsManifest: [] }), {}),
    /modelTopology is neither a layers model .* nor a graph/,
  );
});

test("a broken TF.js layers topology or missing weights are named, before anything runs", () => {
  const keras = (modelConfig: unknown) =>
    JSON.stringify({
      modelTopology: { keras_version: "2.2.4", backend: "tensorflow", model_config: modelConfig },
      weightsManifest: [],
    });
  assert.throws(
    () =>
      inspectTfjsModel(JSON.stringify({ modelTopology: { model_config: { class_name: "Model", config: {} } } }), {}),
    /model.json has no weightsManifest: the model's weights are missing/,
  );
  assert.throws(
    () => inspectTfjsModel(keras('{"class_name": "Model"}'), {}),
    /modelTopology\.model_config: not a Keras model config/,
  );
  assert.throws(
    () => inspectTfjsModel(keras({ class_name: "Dense", config: { units: 2 } }), {}),
    /modelTopology\.model_config: class_name is "Dense": a layers model is a Sequential, Model or Functional/,
  );
  assert.throws(
    () => inspectTfjsModel(keras({ class_name: "Model", config: [1, 2] }), {}),
    /a Model config must be an object with layers, input_layers and output_layers/,
  );
  assert.throws(
    () => inspectTfjsModel(keras({ class_name: "Sequential", config: { name: "s" } }), {}),
    /a Sequential config must be a list of layers or an object with a layers list/,
  );
  assert.throws(
    () =>
      inspectTfjsModel(
        keras({ class_name: "Sequential", config: [{ class_name: "Dense", config: { name: "d", units: 2 } }] }),
        {},
      ),
    /the first layer \("d", a "Dense"\) declares no input shape/,
  );
  assert.throws(
    () =>
      inspectTfjsModel(
        kerasFunctional([
          ["a", ["ghost"]],
          ["b", ["a"]],
        ]),
        {},
      ),
    /layer "a" takes its input from "ghost", which is not a layer of the model/,
  );
  // A cycle makes tfjs-layers' fromConfig loop forever; a node index past the end, throw a TypeError.
  assert.throws(
    () =>
      inspectTfjsModel(
        kerasFunctional([
          ["a", ["b"]],
          ["b", ["a"]],
        ]),
        {},
      ),
    /layer "a" can never be called: its input "b" node 0 is never created/,
  );
  assert.throws(
    () =>
      inspectTfjsModel(
        kerasFunctional(
          [
            ["a", ["x"]],
            ["b", ["a"]],
          ],
          [["b", 3, 0]],
        ),
        {},
      ),
    /output_layers names node 3 of "b", which has 1 node\(s\)/,
  );
  assert.throws(
    () =>
      inspectTfjsModel(
        kerasFunctional([
          ["a", ["x"]],
          ["a", ["x"]],
        ]),
        {},
      ),
    /two layers are named "a"/,
  );
  assert.throws(
    () =>
      inspectTfjsModel(
        kerasFunctional(
          [
            ["a", ["x"]],
            ["b", ["a"]],
          ],
          "b",
        ),
        {},
      ),
    /the Model config has no output_layers list/,
  );
});

test("TFLite fixtures pass; a wrong identifier or a truncated file is named", () => {
  for (const f of [
    ["serving-half_plus_two_tflite", "model.tflite"],
    ["tfjs-tflite-add4", "add4.tflite"],
  ]) {
    const buf = fs.readFileSync(fixturePath(...f));
    const info = inspectTflite(buf);
    assert.equal(info.size, buf.length);
    assert.equal(info.schemaVersion, 3, path.join(...f));
  }
  const buf = fs.readFileSync(fixturePath("tfjs-tflite-add4", "add4.tflite"));
  const wrong = Buffer.from(buf);
  wrong.write("XXXX", 4, "latin1");
  assert.throws(() => inspectTflite(wrong), /file identifier is "XXXX", expected "TFL3"/);
  assert.throws(() => inspectTflite(buf.subarray(0, 12)), /only 12 bytes/);
  const badRoot = Buffer.from(buf);
  badRoot.writeUInt32LE(buf.length + 100, 0);
  assert.throws(() => inspectTflite(badRoot), /root table offset .* outside/);
});
