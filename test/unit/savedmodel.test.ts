// SavedModel / TF1 Hub static inspection against the real fixtures (signatures as their README
// lists them), the dangerous-op scan, and malformed input.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { encodeField } from "../helpers/protobuf-edit.ts";
import { inspectSavedModel } from "../../lib/formats/savedmodel/inspect.ts";
import { fields, type Field } from "../../lib/formats/protobuf.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const pb = (...p: string[]) => fs.readFileSync(fixturePath(...p, "saved_model.pb"));

function sigs(buf: Buffer) {
  const info = inspectSavedModel(buf);
  return Object.fromEntries(
    info.metaGraphs.flatMap((m) =>
      m.signatures.map((s) => [
        s.key,
        `${s.inputs.map((i) => `${i.name}:${i.dtype}:${JSON.stringify(i.shape)}`).join(",")} -> ${s.outputs.map((o) => `${o.name}:${o.dtype}:${JSON.stringify(o.shape)}`).join(",")}`,
      ]),
    ),
  );
}

test("fixture signatures match their README", () => {
  assert.deepEqual(sigs(pb("tfjs-node-saved_model", "times_three_float")), {
    serving_default: "x:DT_FLOAT:[] -> output_0:DT_FLOAT:[]",
  });
  assert.deepEqual(sigs(pb("tfjs-node-saved_model", "times_two_int")), {
    serving_default: "x:DT_INT32:[] -> output_0:DT_INT32:[]",
  });
  assert.deepEqual(sigs(pb("tfjs-node-saved_model", "int64_multiply")), {
    serving_default: "x:DT_INT64:[2] -> output_0:DT_INT64:[2]",
  });
  assert.deepEqual(sigs(pb("tfjs-node-saved_model", "uint8_multiply")), {
    serving_default: "x:DT_UINT8:[1] -> output_0:DT_INT32:[1]",
  });
  assert.deepEqual(Object.keys(sigs(pb("tfjs-node-saved_model", "module_with_multiple_signatures"))), [
    "serving_default",
    "timestwo",
  ]);
  assert.equal(
    sigs(pb("tfjs-node-saved_model", "model_multi_output")).serving_default,
    "x:DT_INT32:[],y:DT_INT32:[] -> output_0:DT_INT32:[],output_1:DT_INT32:[]",
  );
  const tf2 = inspectSavedModel(pb("serving-saved_model_half_plus_two_tf2_cpu", "00000123"));
  assert.equal(tf2.metaGraphs[0]!.signatures.length, 6, "6 signatures, init op skipped");
  assert.equal(tf2.metaGraphs[0]!.tensorflowVersion, "2.14.0");
  assert.equal(Object.keys(sigs(pb("serving-saved_model_half_plus_two_cpu", "00000123"))).length, 5);
  assert.equal(
    sigs(pb("serving-saved_model_half_plus_two_cpu", "00000123")).classify_x_to_y,
    "inputs:DT_STRING:null -> scores:DT_FLOAT:[-1,1]",
  );
  assert.equal(
    sigs(pb("serving-saved_model_half_plus_three", "00000123")).serving_default,
    "x:DT_FLOAT:null -> y:DT_FLOAT:null",
  );
  assert.equal(sigs(pb("serving-saved_model_counter", "00000123")).get_counter, " -> output:DT_FLOAT_REF:[]");
  const hub = inspectSavedModel(pb("hub-half_plus_two_v1_extracted"));
  assert.deepEqual(
    hub.metaGraphs.map((m) => m.tags),
    [[]],
  );
  assert.deepEqual(Object.keys(sigs(pb("hub-half_plus_two_v1_extracted"))), ["default"]);
  assert.deepEqual(Object.keys(sigs(pb("hub-module_v1_mini"))), ["default"]);
  assert.equal(sigs(pb("hub-saved_model_v2_mini")).serving_default, "x:DT_FLOAT:null -> output_0:DT_FLOAT:null");
  assert.equal(
    sigs(pb("mlperf-tiny-kws-dscnn", "model")).serving_default,
    "input_1:DT_FLOAT:[-1,49,10,1] -> dense:DT_FLOAT:[-1,12]",
  );
  assert.equal(
    sigs(pb("tfnet-lstm-sequential", "model")).serving_default,
    "input_1:DT_FLOAT:[-1,5,3] -> dense:DT_FLOAT:[-1,1]",
  );
  assert.equal(
    sigs(pb("tfrust-keras-multi-input", "model")).serving_default,
    "test_in1:DT_FLOAT:[-1,5],test_in2:DT_FLOAT:[-1,5] -> test_out:DT_FLOAT:[-1,1]",
  );
  assert.equal(
    sigs(pb("mlnet-cifar-cnn", "model")).serving_default,
    "Input:DT_FLOAT:[-1,32,32,3] -> Output:DT_FLOAT:[-1,10]",
  );
  assert.equal(
    sigs(pb("tfx-chicago-taxi-keras", "model")).serving_default,
    "examples:DT_STRING:[-1] -> output_0:DT_FLOAT:[-1,3]",
  );
  const kws = inspectSavedModel(pb("mlperf-tiny-kws-dscnn", "model"));
  for (const op of ["Conv2D", "DepthwiseConv2dNative", "FusedBatchNormV3", "AvgPool", "MatMul", "Softmax"])
    assert.ok(kws.metaGraphs[0]!.opCounts[op], op);
});

test("clean fixtures have no findings; PrintV2 is reported with its node", () => {
  for (const p of [
    ["mlperf-tiny-kws-dscnn", "model"],
    ["mlnet-cifar-cnn", "model"],
    ["tfjs-node-saved_model", "times_three_float"],
    ["hub-half_plus_two_v1_extracted"],
    ["serving-saved_model_half_plus_two_tf2_cpu", "00000123"],
  ]) {
    assert.deepEqual(inspectSavedModel(pb(...p)).findings, [], p.join("/"));
  }
  const f = inspectSavedModel(pb("tfnet-simple-auto-compile", "model")).findings;
  assert.ok(
    f.some((x) => x.op === "PrintV2" && x.severity === "danger"),
    JSON.stringify(f),
  );
  assert.match(f[0]!.message, /op PrintV2 .* in node '.*' of function /);
});

// --- patching a real model (test/helpers/protobuf-edit.ts) ---
const encode = encodeField;
const lenField = (field: number, value: Buffer): Field => ({ field, wire: 2, value });

/** Adds a node to the first meta graph's GraphDef (or to its first library function). */
function withNode(model: Buffer, op: string, name: string, inFunction = false): Buffer {
  const node = Buffer.concat([encode(lenField(1, Buffer.from(name))), encode(lenField(2, Buffer.from(op)))]);
  let done = false;
  const top = [...fields(model)].map((f) => {
    if (done || f.field !== 2 || f.wire !== 2) return encode(f);
    done = true;
    const mg = [...fields(f.value)].map((m) => {
      if (m.field !== 2 || m.wire !== 2) return encode(m);
      const g = [...fields(m.value)];
      let patched: Buffer[];
      if (!inFunction) patched = [...g.map(encode), encode(lenField(1, node))];
      else {
        let inLib = false;
        patched = g.map((x) => {
          if (inLib || x.field !== 2 || x.wire !== 2) return encode(x);
          inLib = true;
          let inFn = false;
          const lib = [...fields(x.value)].map((fn) => {
            if (inFn || fn.field !== 1 || fn.wire !== 2) return encode(fn);
            inFn = true;
            return encode(lenField(1, Buffer.concat([fn.value, encode(lenField(3, node))])));
          });
          return encode(lenField(2, Buffer.concat(lib)));
        });
      }
      return encode(lenField(2, Buffer.concat(patched)));
    });
    return encode(lenField(2, Buffer.concat(mg)));
  });
  return Buffer.concat(top);
}

test("a SavedModel patched to contain ReadFile (in the graph or in a function) is flagged by op and node", () => {
  const base = pb("mlperf-tiny-kws-dscnn", "model");
  const g = inspectSavedModel(withNode(base, "ReadFile", "sneaky/read"));
  assert.deepEqual(
    g.findings.map((f) => [f.op, f.node, f.where]),
    [["ReadFile", "sneaky/read", "the graph"]],
  );
  const fn = inspectSavedModel(withNode(base, "WriteFile", "exfil", true));
  assert.equal(fn.findings.length, 1);
  assert.match(fn.findings[0]!.message, /op WriteFile \(writes arbitrary files\) in node 'exfil' of function /);
  const restore = inspectSavedModel(withNode(base, "RestoreV2", "model/hidden_restore"));
  assert.match(restore.findings[0]!.message, /op RestoreV2 outside the saver/);
  assert.equal(inspectSavedModel(withNode(base, "PyFunc", "py")).findings[0]!.op, "PyFunc");
});

test("malformed saved_model.pb is a 422 naming the problem", () => {
  const base = pb("tfjs-node-saved_model", "times_three_float");
  assert.throws(() => inspectSavedModel(base.subarray(0, base.length - 7)), {
    status: 422,
    message: /saved_model.pb is not a valid SavedModel: .*past the end|truncated/,
  });
  assert.throws(() => inspectSavedModel(Buffer.from("<html>not a model</html>")), { status: 422 });
  assert.throws(() => inspectSavedModel(Buffer.alloc(0)), { status: 422, message: /no meta graphs/ });
  assert.throws(() => inspectSavedModel(Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f])), {
    status: 422,
    message: /past the end/,
  });
});
