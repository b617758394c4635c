// The "Use it" snippets of a model page, verbatim for every format: what a user copies is what runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  buildUsageSnippets,
  nameDownloadFile,
  buildDownloadUrl,
  formatKerasInputShape,
  buildPinnedUrl,
  findPrimaryInput,
  type UsageInput,
} from "../../lib/models/usage-snippets.ts";
import type { ModelFormat } from "../../lib/formats/format.ts";

const HEX = "0123456789abcdef".repeat(4);
const URL_ = "https://hub.example.com/google/imagenet/mobilenet_v2/feature_vector/5";
const input = (format: ModelFormat, inputShape: number[] | null = [-1, 224, 224, 3]): UsageInput => ({
  url: URL_,
  handle: "google/imagenet/mobilenet_v2/feature_vector",
  number: 5,
  format,
  inputShape,
  digest: `sha256:${HEX}`,
});

const KERAS = `import tensorflow_hub as hub\nlayer = hub.KerasLayer("${URL_}", trainable=False, input_shape=[224, 224, 3])`;
const HUB_LOAD = `import tensorflow_hub as hub\nmodel = hub.load("${URL_}")`;
const TFJS = `import * as tf from "@tensorflow/tfjs";\nconst model = await tf.loadGraphModel("${URL_}", { fromTFHub: true });`;
const CURL_ARCHIVE = `curl -fL -o feature_vector_5.tar.gz "${URL_}?tf-hub-format=compressed"\necho "${HEX}  feature_vector_5.tar.gz" | sha256sum -c -`;
const CURL_LITE = `curl -fL -o feature_vector_5.tflite "${URL_}?lite-format=tflite"\necho "${HEX}  feature_vector_5.tflite" | sha256sum -c -`;

test("a SavedModel and a TF1 Hub module: a Keras layer with the input shape, hub.load, then curl for the archive", () => {
  const want = [
    { label: "Keras layer", code: KERAS },
    { label: "hub.load", code: HUB_LOAD },
    { label: "curl", code: CURL_ARCHIVE },
  ];
  assert.deepEqual(buildUsageSnippets(input("saved_model")), want);
  assert.deepEqual(buildUsageSnippets(input("tf1_hub")), want);
});

test("without a recorded input shape the Keras layer has no input_shape", () => {
  assert.equal(
    buildUsageSnippets(input("saved_model", null))[0]?.code,
    `import tensorflow_hub as hub\nlayer = hub.KerasLayer("${URL_}", trainable=False)`,
  );
});

test("TF.js graph and layers models: tf.loadGraphModel from the hub, then curl for the archive", () => {
  const want = [
    { label: "TF.js", code: TFJS },
    { label: "curl", code: CURL_ARCHIVE },
  ];
  assert.deepEqual(buildUsageSnippets(input("tfjs_graph")), want);
  assert.deepEqual(buildUsageSnippets(input("tfjs_layers")), want);
});

test("a TFLite file: tf.lite.Interpreter on the pinned file checked against its digest, and curl", () => {
  assert.deepEqual(buildUsageSnippets(input("tflite")), [
    {
      label: "tf.lite.Interpreter",
      code: [
        "import hashlib, urllib.request",
        "import tensorflow as tf",
        `data = urllib.request.urlopen("${URL_}?lite-format=tflite").read()`,
        `assert hashlib.sha256(data).hexdigest() == "${HEX}"`,
        "interpreter = tf.lite.Interpreter(model_content=data)",
        "interpreter.allocate_tensors()",
      ].join("\n"),
    },
    { label: "curl", code: CURL_LITE },
  ]);
});

test("the pinned URL, the download URL and the file name", () => {
  assert.equal(
    buildPinnedUrl("http://localhost:3000", "google/half_plus_two", 1),
    "http://localhost:3000/google/half_plus_two/1",
  );
  assert.equal(buildDownloadUrl(URL_, "saved_model"), `${URL_}?tf-hub-format=compressed`);
  assert.equal(buildDownloadUrl(URL_, "tflite"), `${URL_}?lite-format=tflite`);
  assert.equal(nameDownloadFile("google/half_plus_two", 1, "tfjs_graph"), "half_plus_two_1.tar.gz");
  assert.equal(nameDownloadFile("google/half_plus_two", 1, "tflite"), "half_plus_two_1.tflite");
});

test("the Keras input shape drops the batch dimension and writes unknown dimensions as None", () => {
  assert.equal(formatKerasInputShape([-1, 3]), "[3]");
  assert.equal(formatKerasInputShape([-1, -1, -1, 3]), "[None, None, 3]");
  assert.equal(formatKerasInputShape([]), "[]");
  assert.equal(formatKerasInputShape(null), null);
  assert.equal(formatKerasInputShape(undefined), null);
});

test("the primary input: the serving signature's first input, else the first one the sandbox executed", () => {
  const x = { name: "x", dtype: "DT_FLOAT", shape: [-1, 3] };
  const y = { name: "y", dtype: "DT_FLOAT", shape: [-1, 1] };
  const ran = { name: "input", dtype: "float32", shape: [1, 3] };
  assert.deepEqual(
    findPrimaryInput(
      [
        { key: "other", inputs: [y], outputs: [] },
        { key: "serving_default", inputs: [x], outputs: [] },
      ],
      { inputs: [ran] },
    ),
    x,
  );
  assert.deepEqual(findPrimaryInput([{ key: "default", inputs: [x], outputs: [] }], null), x);
  assert.deepEqual(findPrimaryInput([{ key: "model", inputs: [x], outputs: [] }], null), x);
  assert.deepEqual(findPrimaryInput([{ key: "other", inputs: [y], outputs: [] }], { inputs: [ran] }), ran);
  assert.equal(findPrimaryInput([], null), undefined);
  assert.equal(findPrimaryInput([{ key: "serving_default", inputs: [], outputs: [] }], undefined), undefined);
});
