// The op report as pages and the review queue read it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { conversionOf, notRunOf, opsOf, opsSummary, tfjsVerdict } from "../../lib/models/signatures.ts";

const mg = (tags: string[], ops: unknown[], opsFor = "serving_default") => ({ tags, signatures: [], ops, opsFor });

test("no op data: null", () => {
  assert.equal(opsOf(null), null);
  assert.equal(opsOf({ signatures: { inputs: [] } }), null);
  assert.equal(opsOf({ signatures: [{ tags: ["serve"], signatures: [] }] }), null);
});

test("TF.js, converter and saver ops run; an unsupported needed op blocks and is named", () => {
  const runs = opsOf({
    signatures: [
      mg(
        ["serve"],
        [
          { op: "Conv2D", count: 2, support: "tfjs", needed: true },
          { op: "StatefulPartitionedCall", count: 1, support: "converter", needed: true },
          { op: "SaveV2", count: 1, support: "saver", needed: false },
        ],
      ),
    ],
  })!;
  assert.equal(runs.verdict, "runs");
  assert.equal(opsSummary(runs), "3 ops; everything serving_default needs can run in TF.js");
  const blocked = opsOf({
    signatures: [
      mg(
        ["serve"],
        [
          { op: "ParseExampleV2", count: 1, support: "unsupported", needed: true },
          { op: "MatMul", count: 1, support: "tfjs", needed: true },
        ],
      ),
    ],
  })!;
  assert.equal(blocked.verdict, "blocked");
  assert.equal(opsSummary(blocked), "blocked by ParseExampleV2 (not in TF.js)");
});

test("an unsupported op the default signature does not need is not blocking; a custom op is worded as such", () => {
  const training = opsOf({
    signatures: [
      mg(
        ["serve"],
        [
          { op: "ApplyAdam", count: 4, support: "unsupported", needed: false },
          { op: "Conv2D", count: 1, support: "tfjs", needed: true },
        ],
      ),
    ],
  })!;
  assert.equal(training.verdict, "runs");
  const custom = opsOf({
    signatures: [mg([], [{ op: "TokenizerFromLogits", count: 1, support: "custom" }], "default")],
  })!;
  assert.equal(opsSummary(custom), "blocked by TokenizerFromLogits (custom op)");
});

test("the serve meta graph is the one reported", () => {
  const v = opsOf({
    signatures: [
      mg(["train"], [{ op: "ParseExampleV2", count: 1, support: "unsupported", needed: true }]),
      mg(["serve"], [{ op: "Relu", count: 1, support: "tfjs", needed: true }]),
    ],
  })!;
  assert.equal(v.verdict, "runs");
  assert.deepEqual(
    v.ops.map((o) => o.op),
    ["Relu"],
  );
});

test("execution evidence: the conversion facts, what stopped the runtime, and the badge they give", () => {
  assert.equal(conversionOf(null), null);
  assert.equal(conversionOf({ execution: { inputs: [], outputs: [] } }), null);
  const c = conversionOf({
    execution: {
      conversion: {
        runtime: "savedmodel-js 1.0.0",
        signature: "serving_default",
        convertMs: 12.4,
        nodes: 40,
        functions: 3,
        inlinedCalls: 2,
        frozenVariables: 5,
        parameters: 1000,
      },
    },
  })!;
  assert.deepEqual(c, {
    runtime: "savedmodel-js 1.0.0",
    signature: "serving_default",
    convertMs: 12.4,
    nodes: 40,
    functions: 3,
    inlinedCalls: 2,
    frozenVariables: 5,
    parameters: 1000,
  });

  const findings = [
    { severity: "warning", message: "op ReadFile (reads files) in node 'r' of graph", op: "ReadFile" }, // a static finding with an op is not a refusal
    {
      severity: "warning",
      message: "not executed by savedmodel-js: op ParseExampleV2 (node 'p' in graph) is not supported by TF.js",
      op: "ParseExampleV2",
    },
  ];
  assert.deepEqual(notRunOf({ findings }), {
    runtime: "savedmodel-js",
    op: "ParseExampleV2",
    reason: "op ParseExampleV2 (node 'p' in graph) is not supported by TF.js",
  });
  assert.deepEqual(
    notRunOf({
      findings: [
        {
          severity: "warning",
          message: "not executed by savedmodel-js: signature input 'x' is a composite (sparse or ragged) tensor",
        },
      ],
    })?.op,
    null,
  );
  assert.equal(
    notRunOf({
      findings: [
        { severity: "info", message: "not executed: no TFLite runtime on this machine; verified statically only" },
      ],
    }),
    null,
  );
  assert.equal(notRunOf({ findings: null }), null);

  const runs = opsOf({ signatures: [mg(["serve"], [{ op: "Relu", count: 1, support: "tfjs", needed: true }])] })!;
  const blocked = opsOf({
    signatures: [mg(["serve"], [{ op: "ParseExampleV2", count: 1, support: "unsupported", needed: true }])],
  })!;
  assert.deepEqual(tfjsVerdict(runs, {}), { ok: true, label: "runs in TF.js" });
  assert.deepEqual(tfjsVerdict(blocked, {}), { ok: false, label: "does not run in TF.js" });
  // Every op exists in TF.js, yet the converter refused (e.g. a partitioned variable): the refusal wins.
  assert.deepEqual(
    tfjsVerdict(runs, {
      notRun: { runtime: "savedmodel-js", op: "VarHandleOp", reason: "variable 'v' is partitioned" },
    }),
    { ok: false, label: "did not run in TF.js" },
  );
  // It converted and ran: proof beats the static check.
  assert.deepEqual(tfjsVerdict(blocked, { executed: true }), { ok: true, label: "runs in TF.js (executed)" });
});
