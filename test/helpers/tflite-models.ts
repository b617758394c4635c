// Small TFLite models written from scratch (a FlatBuffer per tensorflow/lite/schema/schema.fbs), for
// what no real fixture has: quantized inputs, and a custom op no runtime implements. The writer lays
// each object out after the one that refers to it (FlatBuffer offsets point forward), every scalar at
// an address aligned to its size, as the runtimes' verifiers require.

type Scalar = { t: "u8" | "i8" | "i32" | "u32" | "f32" | "i64"; v: number };
type Vec = { t: "vec"; elem: "u8" | "i32" | "f32" | "i64"; v: number[] } | { t: "vec"; elem: "ref"; v: Ref[] };
type Ref = { t: "table"; fields: Array<Field | undefined> } | { t: "str"; v: string } | Vec;
type Field = Scalar | Ref;

const SIZE = { u8: 1, i8: 1, i32: 4, u32: 4, f32: 4, i64: 8 } as const;

const table = (...fields: Array<Field | undefined>): Ref => ({ t: "table", fields });
const str = (v: string): Ref => ({ t: "str", v });
const u8 = (v: number): Scalar => ({ t: "u8", v });
const i8 = (v: number): Scalar => ({ t: "i8", v });
const i32 = (v: number): Scalar => ({ t: "i32", v });
const u32 = (v: number): Scalar => ({ t: "u32", v });
const ints = (v: number[]): Ref => ({ t: "vec", elem: "i32", v });
const floats = (v: number[]): Ref => ({ t: "vec", elem: "f32", v });
const longs = (v: number[]): Ref => ({ t: "vec", elem: "i64", v });
const refs = (v: Ref[]): Ref => ({ t: "vec", elem: "ref", v });

/** Serialises a FlatBuffer whose root is `root`, with the file identifier `ident`. */
function serialise(root: Ref, ident: string): Buffer {
  const out = Buffer.alloc(1 << 20);
  let end = 8;
  const align = (n: number, k = 0) => {
    while ((end + k) % n) end++;
  };
  const scalar = (pos: number, s: Scalar) => {
    if (s.t === "u8") out.writeUInt8(s.v, pos);
    else if (s.t === "i8") out.writeInt8(s.v, pos);
    else if (s.t === "i32") out.writeInt32LE(s.v, pos);
    else if (s.t === "u32") out.writeUInt32LE(s.v, pos);
    else if (s.t === "f32") out.writeFloatLE(s.v, pos);
    else out.writeBigInt64LE(BigInt(s.v), pos);
  };
  // Writes `r` at the end of the buffer and returns where it starts (tables: the table, not its vtable).
  const emit = (r: Ref): number => {
    if (r.t === "str") {
      align(4);
      const at = end;
      const bytes = Buffer.from(r.v, "utf8");
      out.writeUInt32LE(bytes.length, at);
      bytes.copy(out, at + 4);
      end = at + 4 + bytes.length + 1;
      return at;
    }
    if (r.t === "vec") {
      const elem = r.elem === "ref" ? 4 : SIZE[r.elem];
      align(Math.max(4, elem), 4); // the elements (after the 4-byte length) are aligned to their size
      const at = end;
      out.writeUInt32LE(r.v.length, at);
      end = at + 4 + r.v.length * elem;
      if (r.elem === "ref") {
        (r.v as Ref[]).forEach((child, k) => {
          const slot = at + 4 + 4 * k;
          out.writeUInt32LE(emit(child) - slot, slot);
        });
      } else (r.v as number[]).forEach((v, k) => scalar(at + 4 + elem * k, { t: r.elem as Scalar["t"], v }));
      return at;
    }
    // A table: its vtable first, then the table (soffset to the vtable, then the fields, each aligned).
    align(2);
    const vt = end;
    const vtSize = 4 + 2 * r.fields.length;
    end = vt + vtSize;
    align(8);
    const at = end;
    let cursor = at + 4;
    const place: Array<[number, Field]> = [];
    r.fields.forEach((f, k) => {
      if (!f) return out.writeUInt16LE(0, vt + 4 + 2 * k);
      const size = f.t === "table" || f.t === "str" || f.t === "vec" ? 4 : SIZE[f.t];
      while (cursor % size) cursor++;
      out.writeUInt16LE(cursor - at, vt + 4 + 2 * k);
      place.push([cursor, f]);
      cursor += size;
    });
    out.writeUInt16LE(vtSize, vt);
    out.writeUInt16LE(cursor - at, vt + 2);
    out.writeInt32LE(at - vt, at);
    end = cursor;
    for (const [pos, f] of place) {
      if (f.t === "table" || f.t === "str" || f.t === "vec") out.writeUInt32LE(emit(f) - pos, pos);
      else scalar(pos, f);
    }
    return at;
  };
  out.write(ident, 4, "latin1");
  out.writeUInt32LE(emit(root), 0);
  align(8);
  return Buffer.from(out.subarray(0, end));
}

type TensorSpec = {
  name: string;
  type: number; // TensorType: 0 float32, 3 uint8, 9 int8
  shape: number[];
  quant?: { scale: number; zeroPoint: number };
};
type OpSpec = { code: number; inputs: number[]; outputs: number[] };

/** A one-subgraph model: its tensors (none constant), operator codes, operators, inputs and outputs. */
function model(p: {
  tensors: TensorSpec[];
  codes: Array<{ builtin: number; custom?: string }>;
  ops: OpSpec[];
  inputs: number[];
  outputs: number[];
}): Buffer {
  const tensor = (t: TensorSpec) =>
    table(
      ints(t.shape),
      u8(t.type),
      u32(0),
      str(t.name),
      t.quant ? table(undefined, undefined, floats([t.quant.scale]), longs([t.quant.zeroPoint])) : undefined,
    );
  return serialise(
    table(
      u32(3),
      refs(
        p.codes.map((c) =>
          table(i8(Math.min(c.builtin, 127)), c.custom ? str(c.custom) : undefined, i32(1), i32(c.builtin)),
        ),
      ),
      refs([
        table(
          refs(p.tensors.map(tensor)),
          ints(p.inputs),
          ints(p.outputs),
          refs(p.ops.map((o) => table(u32(o.code), ints(o.inputs), ints(o.outputs)))),
          str("main"),
        ),
      ]),
      str("written by hubkeep's tests"),
      refs([table()]),
    ),
    "TFL3",
  );
}

const DEQUANTIZE = 6;
const CUSTOM = 32;

/**
 * Two quantized inputs, each dequantized to float32: `q_u8` (uint8, scale 0.5, zero point 10) gives
 * `real_u8` = 0.5 * (q - 10); `q_i8` (int8, scale 0.25, zero point -3) gives `real_i8` = 0.25 * (q + 3).
 */
export function dequantizeModel(): Buffer {
  return model({
    tensors: [
      { name: "q_u8", type: 3, shape: [1, 6], quant: { scale: 0.5, zeroPoint: 10 } },
      { name: "real_u8", type: 0, shape: [1, 6] },
      { name: "q_i8", type: 9, shape: [1, 6], quant: { scale: 0.25, zeroPoint: -3 } },
      { name: "real_i8", type: 0, shape: [1, 6] },
    ],
    codes: [{ builtin: DEQUANTIZE }],
    ops: [
      { code: 0, inputs: [0], outputs: [1] },
      { code: 0, inputs: [2], outputs: [3] },
    ],
    inputs: [0, 2],
    outputs: [1, 3],
  });
}

/** One float32 [1, 4] input through a custom op that no TFLite runtime implements. */
export function unknownCustomOpModel(op = "HubkeepNoSuchOp"): Buffer {
  return model({
    tensors: [
      { name: "x", type: 0, shape: [1, 4] },
      { name: "y", type: 0, shape: [1, 4] },
    ],
    codes: [{ builtin: CUSTOM, custom: op }],
    ops: [{ code: 0, inputs: [0], outputs: [1] }],
    inputs: [0],
    outputs: [1],
  });
}
