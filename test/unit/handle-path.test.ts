import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_VERSION_NUMBER,
  isVersionNumber,
  parseModelPagePath,
  parseVersionNumber,
  splitHandleAndVersion,
} from "../../lib/handle-path.ts";
import { parseModelPath } from "../../lib/http/model-path.ts";
import { parseHubRequest } from "../../lib/hub/hub-path.ts";

test("a version number is a canonical decimal from 1 to the column's maximum", () => {
  for (const [s, n] of [
    ["1", 1],
    ["42", 42],
    ["999999999", 999_999_999],
    [String(MAX_VERSION_NUMBER), MAX_VERSION_NUMBER],
  ] as const) {
    assert.equal(parseVersionNumber(s), n, s);
  }
  for (const s of [
    undefined,
    "",
    "0",
    "00",
    "01",
    "0123",
    "-1",
    "+1",
    "1.5",
    "1e3",
    " 1",
    "x",
    String(MAX_VERSION_NUMBER + 1),
    "99999999999999999999",
  ]) {
    assert.equal(parseVersionNumber(s), null, String(s));
  }
  assert.ok(isVersionNumber(1) && isVersionNumber(MAX_VERSION_NUMBER));
  assert.ok(
    !isVersionNumber(0) &&
      !isVersionNumber(1.5) &&
      !isVersionNumber(MAX_VERSION_NUMBER + 1) &&
      !isVersionNumber(Number.NaN),
  );
});

test("a path splits into a lowercase handle and an optional version", () => {
  assert.deepEqual(splitHandleAndVersion(["Google", "X", "3"]), { handle: "google/x", version: 3 });
  assert.deepEqual(splitHandleAndVersion(["google", "x"]), { handle: "google/x", version: null });
  assert.deepEqual(
    splitHandleAndVersion(["google", "x", "0123"]),
    { handle: "google/x/0123", version: null },
    "not a version: part of the handle",
  );
  assert.deepEqual(splitHandleAndVersion(["google", "x", "2", "model.json"], 3), { handle: "google/x", version: 2 });
  assert.equal(splitHandleAndVersion(["google", "3"]), null, "a one-segment handle names no model");
  assert.equal(splitHandleAndVersion(["google"]), null);
  assert.equal(splitHandleAndVersion([]), null);
});

test("the catalogue page, the hub and the API read the same version numbers", () => {
  assert.deepEqual(parseModelPagePath(["google", "half%5Fplus%5Ftwo", "7"]), {
    handle: "google/half_plus_two",
    version: 7,
  });
  assert.deepEqual(parseModelPagePath(["tensorflow", "tfjs-model", "blazeface", "1", "default"]), {
    handle: "tensorflow/tfjs-model/blazeface/1/default",
    version: null,
  });
  assert.equal(parseModelPagePath(["google"]), null);
  for (const [seg, n] of [
    ["7", 7],
    ["0", null],
    ["0123", null],
    [String(MAX_VERSION_NUMBER + 1), null],
  ] as const) {
    assert.equal(parseModelPagePath(["google", "x", seg])?.version ?? null, n, `page ${seg}`);
    const hub = parseHubRequest(`/google/x/${seg}`, "tf-hub-format=compressed");
    assert.equal(hub?.kind, "archive");
    assert.equal(hub?.kind === "archive" ? hub.version : undefined, n, `hub ${seg}`);
    if (n === null)
      assert.throws(() => parseModelPath(["google", "x", "versions", seg]), {
        status: 422,
        message: `version "${seg}" must be a positive integer`,
      });
    else
      assert.deepEqual(parseModelPath(["google", "x", "versions", seg]), {
        handle: "google/x",
        version: n,
        action: undefined,
      });
  }
});
