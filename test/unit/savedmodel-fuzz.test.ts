// Fuzzing the graph decoder and the converter with mutations of real saved_model.pb files (bit
// flips, byte overwrites, truncation, insertions, length-field corruption, deep nesting). Whatever the
// bytes, the only outcomes allowed are a result or the decoder's / converter's own errors: no
// TypeError, RangeError, stack overflow or hang. Seeded, so a failure reproduces.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fixturePath } from "../helpers/fixtures.ts";
import {
  decodeSavedModel,
  GraphDecodeError,
  decodeAttrValue,
  DECODE_LIMITS,
} from "../../lib/formats/savedmodel/graph.ts";
import {
  chooseMetaGraph,
  convertMetaGraph,
  ConversionError,
  UnsupportedModelError,
} from "../../lib/formats/savedmodel/convert.ts";
import { checkpointOf } from "../../lib/validation/runtimes/savedmodel-js.ts";
import { AppError } from "../../lib/errors.ts";

const MODELS = [
  fixturePath("tfjs-node-saved_model", "times_three_float"),
  fixturePath("serving-saved_model_half_plus_two_cpu", "00000123"),
  fixturePath("hub-half_plus_two_v1_extracted"),
  fixturePath("tfnet-lstm-sequential", "model"),
  fixturePath("mlnet-cifar-cnn", "model"),
];

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(src: Buffer, r: () => number): Buffer {
  const b = Buffer.from(src);
  const at = () => Math.floor(r() * b.length);
  switch (Math.floor(r() * 5)) {
    case 0: // flip bits
      for (let i = 0; i < 1 + Math.floor(r() * 8); i++) b[at()]! ^= 1 << Math.floor(r() * 8);
      return b;
    case 1: {
      // overwrite a run with random bytes
      const o = at();
      for (let i = o; i < Math.min(b.length, o + 1 + Math.floor(r() * 32)); i++) b[i] = Math.floor(r() * 256);
      return b;
    }
    case 2: // truncate
      return b.subarray(0, at());
    case 3: {
      // insert bytes
      const o = at();
      return Buffer.concat([
        b.subarray(0, o),
        Buffer.from(Array.from({ length: 1 + Math.floor(r() * 16) }, () => Math.floor(r() * 256))),
        b.subarray(o),
      ]);
    }
    default: {
      // a large varint where a length may be
      const o = at();
      b[o] = 0xff;
      if (o + 1 < b.length) b[o + 1] = 0xff;
      if (o + 2 < b.length) b[o + 2] = 0x7f;
      return b;
    }
  }
}

const allowed = (e: unknown) =>
  e instanceof GraphDecodeError ||
  e instanceof ConversionError ||
  e instanceof UnsupportedModelError ||
  e instanceof AppError;

test("mutated saved_model.pb files decode and convert, or fail with the decoder's or converter's own error", () => {
  const r = rng(20261128);
  let decoded = 0;
  let converted = 0;
  let refused = 0;
  for (const dir of MODELS) {
    const pb = fs.readFileSync(path.join(dir, "saved_model.pb"));
    const vars = checkpointOf(dir);
    for (let i = 0; i < 120; i++) {
      const bad = mutate(pb, r);
      try {
        const mgs = decodeSavedModel(bad);
        decoded++;
        const mg = chooseMetaGraph(mgs);
        for (const sig of mg.signatures.slice(0, 3)) {
          convertMetaGraph(mg, vars, sig.key);
          converted++;
        }
      } catch (e) {
        if (!allowed(e))
          assert.fail(
            `${path.basename(dir)} mutation ${i}: ${(e as Error).name}: ${(e as Error).message}\n${(e as Error).stack}`,
          );
        refused++;
      }
    }
  }
  // The fuzzer must exercise both sides: some mutations survive decoding (flips inside strings and floats).
  assert.ok(decoded > 50 && refused > 50, `decoded ${decoded}, converted ${converted}, refused ${refused}`);
  console.log(`fuzz: ${decoded} decoded, ${converted} signatures converted, ${refused} refused`);
});

test("nesting, counts and sizes are bounded", () => {
  // AttrValue{func: NameAttrList{attr: {k: AttrValue{func: ...}}}} nested past the limit.
  const varint = (n: number) => {
    const out: number[] = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return Buffer.from(out);
  };
  const ld = (field: number, body: Buffer) => Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);
  let v = ld(2, Buffer.from("leaf")); // AttrValue{s}
  for (let i = 0; i < DECODE_LIMITS.maxAttrDepth + 5; i++)
    v = ld(10, Buffer.concat([ld(1, Buffer.from("f")), ld(2, Buffer.concat([ld(1, Buffer.from("k")), ld(2, v)]))]));
  assert.throws(() => decodeAttrValue(v), /nest deeper than/);
  // A constant claiming 2^40 elements is refused before anything is allocated.
  const dim = (n: number) => ld(2, Buffer.concat([varint(1 << 3), varint(n)]));
  const tensor = ld(8, Buffer.concat([varint(1 << 3), varint(1), ld(2, Buffer.concat([dim(1 << 20), dim(1 << 20)]))]));
  assert.throws(() => decodeAttrValue(tensor), /elements \(limit/);
  // Not a SavedModel at all.
  assert.throws(() => decodeSavedModel(Buffer.from("<html>not a model</html>")), GraphDecodeError);
  assert.throws(() => decodeSavedModel(Buffer.alloc(0)), /no meta graphs/);
});
