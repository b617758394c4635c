import { test } from "node:test";
import assert from "node:assert/strict";
import { parseModelUrl, formatOfHandle } from "../../lib/upstream/handles.ts";

const good: Array<[string, string, number | "latest", string]> = [
  [
    "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5",
    "google/imagenet/mobilenet_v2_100_224/feature_vector",
    5,
    "saved_model",
  ],
  [
    "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector",
    "google/imagenet/mobilenet_v2_100_224/feature_vector",
    "latest",
    "saved_model",
  ],
  [
    "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5/",
    "google/imagenet/mobilenet_v2_100_224/feature_vector",
    5,
    "saved_model",
  ],
  [
    "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5?tf-hub-format=compressed",
    "google/imagenet/mobilenet_v2_100_224/feature_vector",
    5,
    "saved_model",
  ],
  ["http://tfhub.dev/google/universal-sentence-encoder/4", "google/universal-sentence-encoder", 4, "saved_model"],
  ["tfhub.dev/google/universal-sentence-encoder-large/5", "google/universal-sentence-encoder-large", 5, "saved_model"],
  [
    "https://www.tfhub.dev/Google/BERT_uncased_L-12_H-768_A-12/1",
    "google/bert_uncased_l-12_h-768_a-12",
    1,
    "saved_model",
  ],
  [
    "https://tfhub.dev/tensorflow/bert_en_uncased_preprocess/3",
    "tensorflow/bert_en_uncased_preprocess",
    3,
    "saved_model",
  ],
  [
    "https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v3_small_100_224/feature_vector/5/default/1",
    "google/tfjs-model/imagenet/mobilenet_v3_small_100_224/feature_vector/5/default",
    1,
    "tfjs_graph",
  ],
  [
    "https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v3_small_100_224/feature_vector/5/default/1/model.json?tfjs-format=file",
    "google/tfjs-model/imagenet/mobilenet_v3_small_100_224/feature_vector/5/default",
    1,
    "tfjs_graph",
  ],
  [
    "https://tfhub.dev/tensorflow/tfjs-model/blazeface/1/default/1",
    "tensorflow/tfjs-model/blazeface/1/default",
    1,
    "tfjs_graph",
  ],
  [
    "https://tfhub.dev/tensorflow/lite-model/ssd_mobilenet_v1/1/metadata/2",
    "tensorflow/lite-model/ssd_mobilenet_v1/1/metadata",
    2,
    "tflite",
  ],
  [
    "https://tfhub.dev/tensorflow/lite-model/mobilenet_v1_1.0_224/1/default/1?lite-format=tflite",
    "tensorflow/lite-model/mobilenet_v1_1.0_224/1/default",
    1,
    "tflite",
  ],
  [
    "https://tfhub.dev/google/imagenet/resnet_v2_50/classification/5#usage",
    "google/imagenet/resnet_v2_50/classification",
    5,
    "saved_model",
  ],
  [
    "https://www.kaggle.com/models/google/mobilenet-v2/tensorFlow2/100-224-feature-vector/1",
    "google/mobilenet-v2/tensorflow2/100-224-feature-vector",
    1,
    "saved_model",
  ],
  [
    "https://www.kaggle.com/models/google/mobilenet-v2/tensorFlow2/100-224-feature-vector",
    "google/mobilenet-v2/tensorflow2/100-224-feature-vector",
    "latest",
    "saved_model",
  ],
  [
    "https://www.kaggle.com/models/google/mobilenet-v2/frameworks/tensorFlow2/variations/100-224-feature-vector/versions/2",
    "google/mobilenet-v2/tensorflow2/100-224-feature-vector",
    2,
    "saved_model",
  ],
  [
    "https://www.kaggle.com/models/google/mobilenet-v2/frameworks/TensorFlow2/variations/100-224-feature-vector",
    "google/mobilenet-v2/tensorflow2/100-224-feature-vector",
    "latest",
    "saved_model",
  ],
  [
    "https://www.kaggle.com/models/tensorflow/blazeface/tfJs/default/1",
    "tensorflow/blazeface/tfjs/default",
    1,
    "tfjs_graph",
  ],
  [
    "https://kaggle.com/models/tensorflow/ssd-mobilenet-v1/tfLite/metadata/2",
    "tensorflow/ssd-mobilenet-v1/tflite/metadata",
    2,
    "tflite",
  ],
  [
    "https://www.kaggle.com/models/google/bert/tensorFlow1/uncased-l-12-h-768-a-12/1",
    "google/bert/tensorflow1/uncased-l-12-h-768-a-12",
    1,
    "tf1_hub",
  ],
];

for (const [url, handle, version, format] of good) {
  test(`parses ${url}`, () => {
    const p = parseModelUrl(url);
    assert.equal(p.handle, handle);
    assert.equal(p.version, version);
    assert.equal(p.format, format);
  });
}

test("canonical URLs", () => {
  assert.equal(
    parseModelUrl("tfhub.dev/Google/X/5?tf-hub-format=compressed").canonicalUrl,
    "https://tfhub.dev/google/x/5",
  );
  assert.equal(parseModelUrl("https://tfhub.dev/google/x").canonicalUrl, "https://tfhub.dev/google/x");
  assert.equal(
    parseModelUrl("https://www.kaggle.com/models/google/m/frameworks/tensorFlow2/variations/v/versions/3").canonicalUrl,
    "https://www.kaggle.com/models/google/m/tensorflow2/v/3",
  );
});

const badUrls: Array<[string, RegExp]> = [
  ["", /empty/],
  ["not a url at all", /not a URL|segment/],
  ["ftp://tfhub.dev/google/x/1", /unsupported scheme/],
  ["https://evil.example/google/x/1", /not tfhub\.dev/],
  ["https://tfhub.dev.evil.example/google/x/1", /not tfhub\.dev/],
  ["https://user:pw@tfhub.dev/google/x/1", /credentials/],
  ["https://tfhub.dev/", /no model/],
  ["https://tfhub.dev/google", /not a model handle/],
  ["https://tfhub.dev/google/x/0", /positive integer/],
  ["https://tfhub.dev/google/../x/1", /not a model handle|not allowed/],
  ["https://tfhub.dev/google/%2e%2e/x/1", /not allowed/],
  ["https://tfhub.dev/google/a%2fb/1", /not allowed/],
  ["https://tfhub.dev/google/x%00/1", /not allowed/],
  ["https://tfhub.dev/google/%E0%A4%A/1", /percent-encoding/],
  ["https://tfhub.dev/google/x y/1", /may only hold/],
  ["https://tfhub.dev/google/99999999999999999999", /positive integer/],
  ["https://www.kaggle.com/datasets/foo/bar", /not a Kaggle model URL/],
  ["https://www.kaggle.com/models/google/m/pyTorch/v/1", /framework "pyTorch"/],
  ["https://www.kaggle.com/models/google/m/tensorFlow2", /expected \/models/],
  ["https://www.kaggle.com/models/google/m/frameworks/tensorFlow2/variations/v/versions", /versions\/<n>/],
];

for (const [url, reason] of badUrls) {
  test(`refuses ${JSON.stringify(url)} with a reason`, () => {
    assert.throws(
      () => parseModelUrl(url),
      (err: Error & { status?: number }) => {
        assert.equal(err.status, 422);
        assert.match(err.message, reason);
        return true;
      },
    );
  });
}

test("format follows the handle", () => {
  assert.equal(formatOfHandle("google/tfjs-model/x/1/default"), "tfjs_graph");
  assert.equal(formatOfHandle("tensorflow/lite-model/x/1/default"), "tflite");
  assert.equal(formatOfHandle("google/x"), "saved_model");
});

import { evaluateRules, parseHandleGlob, parseRule } from "../../lib/upstream/allowlist.ts";

test("allowlist: deny wins, first allow names itself, otherwise no rule allows", () => {
  const rules = ["google/*", "tensorflow/tfjs-model/*", "!google/experimental/*"].map(parseRule);
  assert.deepEqual(evaluateRules(rules, "google/imagenet/mobilenet_v2_100_224/feature_vector"), {
    allowed: true,
    rule: { pattern: "google/*", effect: "allow" },
  });
  assert.equal(evaluateRules(rules, "tensorflow/tfjs-model/blazeface/1/default").allowed, true);
  const denied = evaluateRules(rules, "google/experimental/thing");
  assert.equal(denied.allowed, false);
  assert.equal(
    !denied.allowed && denied.reason,
    `"google/experimental/thing" is denied by rule "!google/experimental/*"`,
  );
  const none = evaluateRules(rules, "evilcorp/model");
  assert.equal(!none.allowed && none.reason, `no rule allows "evilcorp/model"`);
  assert.equal(evaluateRules([], "google/x").allowed, false);
  assert.throws(() => parseRule("!"), { status: 422 });
  assert.throws(() => parseRule("google/../x"), { status: 422 });
  assert.throws(() => parseRule("google x"), { status: 422 });
});

test("handle globs (quota namespaces, retention matches): the allowlist's syntax without !, errors name the field", () => {
  assert.equal(parseHandleGlob("  Research/*  ", "namespace"), "research/*");
  assert.equal(parseHandleGlob("google/?ert/*", "rules.0.match"), "google/?ert/*");
  const cases: Array<[unknown, RegExp]> = [
    ["", /^namespace: a handle glob is required/],
    [42, /^namespace: a handle glob is required/],
    ["!research/*", /^namespace: "!research\/\*" is not a handle glob/],
    ["has space/*", /^namespace: "has space\/\*" is not a handle glob/],
    ["a/../b", /^namespace: "a\/..\/b" is not a handle glob/],
  ];
  for (const [input, message] of cases)
    assert.throws(() => parseHandleGlob(input, "namespace"), { status: 422, message }, String(input));
});
