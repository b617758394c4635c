// The evidence columns read back typed (old rows included), findings told apart by their code, and
// the sandbox protocol that both ends share.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  readExecution,
  readFindings,
  readIsolation,
  readSignatures,
  STATIC_ONLY_ISOLATION,
  type Finding,
} from "../../lib/validation/evidence.ts";
import { notRunOf } from "../../lib/models/signatures.ts";
import { notExecuted } from "../../lib/validation/execute.ts";
import { childMessageSchema, childRequestSchema } from "../../lib/validation/sandbox/protocol.ts";

test("findings: current ones keep their code and fields; legacy ones (no code) read back; junk is left out", () => {
  const current: Finding[] = [
    {
      code: "dangerous_op",
      severity: "danger",
      message: "op ReadFile (reads arbitrary files) in node 'r' of the graph",
      op: "ReadFile",
      node: "r",
    },
    {
      code: "runtime_refused",
      severity: "warning",
      message: "not executed by savedmodel-js: variable 'v' is partitioned",
      runtime: "savedmodel-js",
      reason: "variable 'v' is partitioned",
      op: "VarHandleOp",
    },
  ];
  assert.deepEqual(readFindings(current), current);
  const legacy = { severity: "warning", message: "not executed by tfjs: x", op: "X" };
  assert.deepEqual(readFindings([legacy, 3, { message: 1 }, null]), [legacy]);
  assert.deepEqual(readFindings(null), []);
  assert.deepEqual(readFindings({}), []);
});

test("a refusal is read from its code, not its words; a legacy row still reads from its words", () => {
  // The code decides: a refusal whose runtime name holds a colon is still read exactly.
  const coded = [
    {
      code: "runtime_refused",
      severity: "warning",
      message: "not executed by odd:runtime: r",
      runtime: "odd:runtime",
      reason: "r",
    },
  ];
  assert.deepEqual(notRunOf({ findings: coded }), { runtime: "odd:runtime", op: null, reason: "r" });
  // A coded finding that is not a refusal is never taken for one, whatever it says.
  assert.equal(
    notRunOf({
      findings: [{ code: "not_executed", severity: "info", message: "not executed by tfjs: looks like one" }],
    }),
    null,
  );
  assert.deepEqual(
    notRunOf({ findings: [{ severity: "warning", message: "not executed by tfjs: old row", op: "Op" }] }),
    { runtime: "tfjs", op: "Op", reason: "old row" },
  );
  assert.deepEqual(
    notExecuted("no TFLite runtime on this machine").findings.map((f) => f.code),
    ["not_executed"],
  );
});

test("signatures, execution and isolation read back typed, old shapes included", () => {
  const saved = readSignatures([
    {
      tags: ["serve"],
      signatures: [{ key: "serving_default", inputs: [{ name: "x", dtype: "DT_FLOAT", shape: [-1, 3] }] }],
    },
  ]);
  assert.ok(Array.isArray(saved));
  assert.deepEqual(saved[0]!.signatures[0]!.outputs, [], "outputs default to none");
  assert.equal(saved[0]!.ops, undefined, "early rows have no op report");
  assert.deepEqual(readSignatures({ schemaVersion: 3 }), { schemaVersion: 3 });
  assert.deepEqual(readSignatures({ inputs: [{ name: "a", dtype: "float32", shape: null }] }), {
    inputs: [{ name: "a", dtype: "float32", shape: null }],
    outputs: [],
  });
  assert.equal(readSignatures(null), null);
  assert.equal(readSignatures("nonsense"), null);

  assert.deepEqual(readExecution({ inputs: [{ name: "x", dtype: "float32", shape: [1] }], outputs: [] }), {
    inputs: [{ name: "x", dtype: "float32", shape: [1] }],
    outputs: [],
  });
  assert.equal(readExecution(null), null);

  assert.deepEqual(readIsolation(STATIC_ONLY_ISOLATION), STATIC_ONLY_ISOLATION);
  const sandbox = {
    env: "empty",
    fs: "f",
    network: "n",
    processes: "p",
    memory: { capBytes: 1, maxOldSpaceMiB: 1, cgroup: null, rssWatchdog: true },
    timeoutMs: 5,
  };
  assert.deepEqual(readIsolation(sandbox), sandbox);
  assert.equal(readIsolation({ env: "full" }), null);
});

test("the protocol: the child fills the request's defaults; the parent refuses what is not in it", () => {
  const req = childRequestSchema.parse({ runtime: "tfjs", backend: "cpu", format: "tfjs_graph", modelDir: "/m" });
  assert.deepEqual([req.minRuns, req.maxBenchMs, req.seed], [20, 2000, 1]);
  assert.equal(
    childRequestSchema.safeParse({ ...req, format: "tflite" }).success,
    false,
    "TFLite runs only in a TFLite runtime, never in tfjs",
  );
  assert.equal(childRequestSchema.safeParse({ ...req, format: "unknown" }).success, false);
  assert.equal(childMessageSchema.safeParse({ type: "progress", stage: "load" }).success, true);
  assert.equal(childMessageSchema.safeParse({ type: "result", ok: false, error: "x".repeat(2001) }).success, false);
  assert.equal(childMessageSchema.safeParse({ type: "shell", cmd: "rm" }).success, false);
});
