// Reading the latest version out of the upstream's redirect (tfhub.dev -> Kaggle), in every form
// the redirect has been seen to take, and nothing else.
import { test } from "node:test";
import assert from "node:assert/strict";
import { versionInLocation } from "../../lib/upstream/latest.ts";

const at = (u: string, handle = "google/imagenet/mobilenet_v2_100_224/feature_vector") =>
  versionInLocation(new URL(u, "https://tfhub.dev/x"), handle);

test("the redirect names the version: Kaggle's short and long forms, or the upstream's versioned URL", () => {
  assert.equal(
    at("https://www.kaggle.com/models/google/mobilenet-v2/tensorFlow2/100-224-feature-vector/5?tfhub-redirect=true"),
    5,
  );
  assert.equal(
    at(
      "https://www.kaggle.com/models/google/mobilenet-v2/frameworks/tensorFlow2/variations/100-224-feature-vector/versions/12",
    ),
    12,
  );
  assert.equal(at("https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/4"), 4);
  assert.equal(at("/google/imagenet/mobilenet_v2_100_224/feature_vector/7/"), 7);
});

test("a redirect that names no version (Kaggle's search, a model page, another model) gives none", () => {
  assert.equal(at("https://www.kaggle.com/models?tfhub-redirect=true"), null);
  assert.equal(at("https://www.kaggle.com/models/google/mobilenet-v2/tensorFlow2/100-224-feature-vector"), null);
  assert.equal(at("https://tfhub.dev/google/other/model/3"), null);
  assert.equal(at("https://www.kaggle.com/models/google/mobilenet-v2/tensorFlow2/x/0"), null, "versions start at 1");
});
