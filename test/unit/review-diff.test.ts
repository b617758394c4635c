import { test } from "node:test";
import assert from "node:assert/strict";
import { diffEvidence, type EvidenceSnapshot } from "../../lib/models/review.ts";
import { signatureLine, signaturesOf } from "../../lib/models/signatures.ts";

const v1: EvidenceSnapshot = {
  number: 1,
  size: 1_048_576,
  signatures: ["serving_default(x: float[-1, 3]) -> y: float[-1, 1]"],
  paramCount: 1000,
  p50Ms: 10,
};

test("a first version is all new", () => {
  const rows = diffEvidence(null, v1);
  assert.deepEqual(
    rows.map((r) => r.change),
    ["new", "new", "new", "new"],
  );
  assert.equal(rows[0]!.after, "1.0 MiB");
  assert.equal(rows[2]!.after, "1,000");
  assert.equal(rows[3]!.after, "10.00 ms");
});

test("size, signatures, parameters and latency changes are flagged with their deltas; noise is not", () => {
  const same = diffEvidence(v1, { ...v1, number: 2, p50Ms: 10.9 });
  assert.deepEqual(
    same.map((r) => r.change),
    ["same", "same", "same", "same"],
    "latency within 10 % is the same",
  );
  const changed = diffEvidence(v1, {
    number: 2,
    size: 2_097_152,
    signatures: ["serving_default(x: float[-1, 4]) -> y: float[-1, 1]"],
    paramCount: 1500,
    p50Ms: 20,
  });
  assert.deepEqual(
    changed.map((r) => r.change),
    ["changed", "changed", "changed", "changed"],
  );
  assert.match(changed[0]!.after, /2\.0 MiB \(\+100\.0 %\)/);
  assert.match(changed[2]!.after, /1,500 \(\+50\.0 %\)/);
  assert.match(changed[3]!.after, /20\.00 ms \(\+100\.0 %\)/);
  const lost = diffEvidence(v1, { ...v1, number: 2, paramCount: null, p50Ms: null });
  assert.equal(lost[2]!.after, "unknown");
  assert.equal(lost[3]!.after, "not run");
  assert.equal(lost[3]!.change, "changed");
});

test("signatures read from every format; TF.js outputs come from the run when the manifest has none", () => {
  const saved = signaturesOf({
    signatures: [
      {
        tags: ["serve"],
        signatures: [
          {
            key: "serving_default",
            inputs: [{ name: "x", dtype: "DT_FLOAT", shape: [-1, 3] }],
            outputs: [{ name: "y", dtype: "DT_FLOAT", shape: [-1, 1] }],
          },
        ],
      },
    ],
  });
  assert.equal(signatureLine(saved[0]!), "serving_default(x: float[None, 3]) -> y: float[None, 1]");
  const tfjs = signaturesOf({
    signatures: { inputs: [{ name: "input", dtype: "float32", shape: [1, 8] }], outputs: [] },
    execution: { inputs: [], outputs: [{ name: "Identity", dtype: "float32", shape: [1, 2], nonFinite: 0 }] },
  });
  assert.equal(signatureLine(tfjs[0]!), "model(input: float32[1, 8]) -> Identity: float32[1, 2]");
  assert.deepEqual(signaturesOf({ signatures: { schemaVersion: 3 } }), []);
  assert.deepEqual(signaturesOf(null), []);
});
