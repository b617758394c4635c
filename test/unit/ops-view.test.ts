// The op report as pages and the review queue read it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { opsOf, opsSummary } from "../../lib/models/signatures.ts";

const mg = (tags: string[], ops: unknown[], opsFor = "serving_default") => ({ tags, signatures: [], ops, opsFor });

test("no op data: null", () => {
  assert.equal(opsOf(null), null);
  assert.equal(opsOf({ signatures: { inputs: [] } }), null);
  assert.equal(opsOf({ signatures: [{ tags: ["serve"], signatures: [] }] }), null);
});

test("TF.js, converter and saver ops run; an unsupported needed op blocks and is named", () => {
  const runs = opsOf({ signatures: [mg(["serve"], [{ op: "Conv2D", count: 2, support: "tfjs", needed: true }, { op: "StatefulPartitionedCall", count: 1, support: "converter", needed: true }, { op: "SaveV2", count: 1, support: "saver", needed: false }])] })!;
  assert.equal(runs.verdict, "runs");
  assert.equal(opsSummary(runs), "3 ops; everything serving_default needs can run in TF.js");
  const blocked = opsOf({ signatures: [mg(["serve"], [{ op: "ParseExampleV2", count: 1, support: "unsupported", needed: true }, { op: "MatMul", count: 1, support: "tfjs", needed: true }])] })!;
  assert.equal(blocked.verdict, "blocked");
  assert.equal(opsSummary(blocked), "blocked by ParseExampleV2 (not in TF.js)");
});

test("an unsupported op the default signature does not need is not blocking; a custom op is worded as such", () => {
  const training = opsOf({ signatures: [mg(["serve"], [{ op: "ApplyAdam", count: 4, support: "unsupported", needed: false }, { op: "Conv2D", count: 1, support: "tfjs", needed: true }])] })!;
  assert.equal(training.verdict, "runs");
  const custom = opsOf({ signatures: [mg([], [{ op: "TokenizerFromLogits", count: 1, support: "custom" }], "default")] })!;
  assert.equal(opsSummary(custom), "blocked by TokenizerFromLogits (custom op)");
});

test("the serve meta graph is the one reported", () => {
  const v = opsOf({ signatures: [mg(["train"], [{ op: "ParseExampleV2", count: 1, support: "unsupported", needed: true }]), mg(["serve"], [{ op: "Relu", count: 1, support: "tfjs", needed: true }])] })!;
  assert.equal(v.verdict, "runs");
  assert.deepEqual(v.ops.map((o) => o.op), ["Relu"]);
});
