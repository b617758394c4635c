// Checkpoint verification on the real fixtures, and generated corruptions caught by name.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { verifyTensorBundle } from "../../lib/formats/tensor-bundle.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-bundle-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const FIXTURES: Array<[string[], number]> = [
  [["tfjs-node-saved_model", "times_three_float"], 2],
  [["serving-saved_model_half_plus_two_tf2_cpu", "00000123"], 4],
  [["serving-saved_model_half_plus_two_cpu", "00000123"], 5],
  [["serving-saved_model_half_plus_three", "00000123"], 3],
  [["serving-saved_model_counter", "00000123"], 1],
  [["hub-half_plus_two_v1_extracted"], 2],
  [["hub-saved_model_v2_mini"], 2],
  [["mlperf-tiny-kws-dscnn", "model"], 142],
  [["mlnet-cifar-cnn", "model"], 14],
  [["tfnet-lstm-sequential", "model"], 22],
  [["tfrust-keras-multi-input", "model"], 22],
  [["tfex-fake-effdet-lite0-hub", "model"], 21],
  [["tfx-chicago-taxi-keras", "model"], 28],
  [["tftext-segmenter-hub-module", "model"], 6],
  [["tfnet-simple-auto-compile", "model"], 9],
];

test("every fixture checkpoint verifies (Snappy index blocks, masked CRC32C, DT_STRING layout)", () => {
  for (const [p, count] of FIXTURES) {
    const info = verifyTensorBundle(path.join(fixturePath(...p), "variables", "variables"));
    assert.equal(info.tensors.length, count, p.join("/"));
    assert.equal(info.numShards, 1);
  }
});

function copyVariables(p: string[]): string {
  const dir = fs.mkdtempSync(path.join(tmp, "v-"));
  for (const f of fs.readdirSync(path.join(fixturePath(...p), "variables")))
    fs.copyFileSync(path.join(fixturePath(...p), "variables", f), path.join(dir, f));
  return path.join(dir, "variables");
}

test("a flipped byte in a shard is a CRC32C mismatch naming the tensor", () => {
  const prefix = copyVariables(["mlperf-tiny-kws-dscnn", "model"]);
  const info = verifyTensorBundle(prefix);
  const victim = info.tensors.find((t) => t.dtype === "DT_FLOAT" && t.size > 100)!;
  const data = fs.readFileSync(`${prefix}.data-00000-of-00001`);
  data[victim.offset + 17] = data[victim.offset + 17]! ^ 0x01;
  fs.writeFileSync(`${prefix}.data-00000-of-00001`, data);
  assert.throws(() => verifyTensorBundle(prefix), {
    status: 422,
    message: `variables.data-00000-of-00001: tensor ${victim.name} CRC32C mismatch`,
  });
});

test("a truncated shard, a corrupt index block and a missing shard are named", () => {
  const a = copyVariables(["hub-half_plus_two_v1_extracted"]);
  const data = fs.readFileSync(`${a}.data-00000-of-00001`);
  fs.writeFileSync(`${a}.data-00000-of-00001`, data.subarray(0, data.length - 3));
  assert.throws(() => verifyTensorBundle(a), /variables\.data-00000-of-00001: tensor .* \(truncated\)/);

  const b = copyVariables(["serving-saved_model_half_plus_two_tf2_cpu", "00000123"]);
  const idx = fs.readFileSync(`${b}.index`);
  idx[5] = idx[5]! ^ 0xff;
  fs.writeFileSync(`${b}.index`, idx);
  assert.throws(() => verifyTensorBundle(b), /variables\.index: .*(checksum mismatch|corrupt|Snappy)/);

  const c = copyVariables(["tfjs-node-saved_model", "times_three_float"]);
  fs.rmSync(`${c}.data-00000-of-00001`);
  assert.throws(() => verifyTensorBundle(c), /variables\.data-00000-of-00001 is missing/);

  const d = copyVariables(["tfjs-node-saved_model", "times_three_float"]);
  const short = fs.readFileSync(`${d}.index`);
  fs.writeFileSync(`${d}.index`, short.subarray(0, short.length - 1));
  assert.throws(() => verifyTensorBundle(d), /variables\.index: bad table magic number/);
});
