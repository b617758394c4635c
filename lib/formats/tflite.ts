// TFLite: a FlatBuffer (tensorflow/lite/schema/schema.fbs) with the file identifier "TFL3" at bytes
// 4..8. inspectTflite checks the identifier, that the root table and its vtable lie inside the file,
// and reads the schema version (Model field 0): those are the static verdict. It also reads, where the
// structure allows, what the model declares: its first subgraph's input and output tensors (name,
// type, shape with -1 for a dynamic dimension, quantization), its signature defs, its custom ops and
// its parameter count. That part never fails the file (the runtime that loads it is the judge, with
// its own words); when it cannot be read, `details` is null and `detailsError` says why.
// readTfliteModel is that reader alone, with no dependency, for the sandbox child too.
import { AppError } from "../errors.ts";

/** How a tensor's real values map to its stored integers: real = scale * (q - zeroPoint). */
export type TfliteQuantization = { scale: number[]; zeroPoint: number[]; axis: number };
/** One tensor of the model's first subgraph. */
export type TfliteTensor = {
  /** The tensor's index in the subgraph (what interpreters call its id). */
  index: number;
  name: string;
  /** The element type in lower case: float32, int8, uint8, int32, ... */
  dtype: string;
  /** Its shape, with -1 for a dimension the model leaves dynamic (`shape_signature`). */
  shape: number[];
  quantization?: TfliteQuantization;
};
/** A signature def: its key and the names it gives to subgraph tensors. */
export type TfliteSignature = {
  key: string;
  inputs: Array<{ name: string; tensor: number }>;
  outputs: Array<{ name: string; tensor: number }>;
};
/** What the model declares, read from the flatbuffer. */
export type TfliteDetails = {
  subgraphs: number;
  inputs: TfliteTensor[];
  outputs: TfliteTensor[];
  signatures: TfliteSignature[];
  /** The custom ops the model uses (ops no builtin kernel implements). */
  customOps: string[];
  operators: number;
  /** Elements of the constant tensors (those backed by a non-empty buffer). */
  parameterCount: number;
};
export type TfliteInfo = {
  size: number;
  schemaVersion: number | null;
  details: TfliteDetails | null;
  detailsError?: string;
};

/** The flatbuffer is not what schema.fbs says; the message names where. */
export class TfliteFormatError extends Error {}

// TensorType in schema.fbs, by value.
const TENSOR_TYPES = [
  "float32",
  "float16",
  "int32",
  "uint8",
  "int64",
  "string",
  "bool",
  "int16",
  "complex64",
  "int8",
  "float64",
  "complex128",
  "uint64",
  "resource",
  "variant",
  "uint32",
  "uint16",
  "int4",
  "bfloat16",
];
const BUILTIN_CUSTOM = 32;
const MAX_LISTED = 4096;
const MAX_NAME = 512;
const MAX_TABLES = 4_000_000;

/** Bounds-checked reads of flatbuffer tables, vectors and strings. Every offset is checked. */
class Flat {
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private readonly view: DataView;

  private need(pos: number, len: number, what: string) {
    if (!Number.isInteger(pos) || pos < 0 || len < 0 || pos + len > this.buf.length)
      throw new TfliteFormatError(`${what} at byte ${pos} runs past the end of the ${this.buf.length}-byte file`);
  }
  u8(pos: number, what: string) {
    this.need(pos, 1, what);
    return this.view.getUint8(pos);
  }
  i8(pos: number, what: string) {
    this.need(pos, 1, what);
    return this.view.getInt8(pos);
  }
  u16(pos: number, what: string) {
    this.need(pos, 2, what);
    return this.view.getUint16(pos, true);
  }
  u32(pos: number, what: string) {
    this.need(pos, 4, what);
    return this.view.getUint32(pos, true);
  }
  i32(pos: number, what: string) {
    this.need(pos, 4, what);
    return this.view.getInt32(pos, true);
  }
  f32(pos: number, what: string) {
    this.need(pos, 4, what);
    return this.view.getFloat32(pos, true);
  }
  i64(pos: number, what: string) {
    this.need(pos, 8, what);
    return Number(this.view.getBigInt64(pos, true));
  }
  u64(pos: number, what: string) {
    this.need(pos, 8, what);
    return Number(this.view.getBigUint64(pos, true));
  }

  private tables = 0;

  /** The table at `pos`: its fields by index, each the absolute position of its value (or 0 if absent). */
  table(pos: number, what: string): (field: number) => number {
    // Tables may be shared, so a small hostile file can name millions: bound the work, not just the bytes.
    if (++this.tables > MAX_TABLES) throw new TfliteFormatError(`more than ${MAX_TABLES} tables`);
    const vt = pos - this.i32(pos, what);
    const vtSize = this.u16(vt, `${what}'s vtable`);
    const tableSize = this.u16(vt + 2, `${what}'s vtable`);
    if (vtSize < 4 || vtSize % 2) throw new TfliteFormatError(`${what}'s vtable has size ${vtSize}`);
    this.need(vt, vtSize, `${what}'s vtable`);
    this.need(pos, tableSize, what);
    return (field) => {
      const at = 4 + 2 * field;
      if (at + 2 > vtSize) return 0;
      const off = this.u16(vt + at, `${what}'s vtable`);
      return off ? pos + off : 0;
    };
  }
  /** Follows the offset stored at `pos` (a reference field or a vector element). */
  deref(pos: number, what: string): number {
    return pos + this.u32(pos, what);
  }
  /** A vector's length and first element; each element is `elem` bytes. */
  vector(pos: number, elem: number, what: string): { length: number; at: (k: number) => number } {
    const start = this.deref(pos, what);
    const length = this.u32(start, what);
    this.need(start + 4, length * elem, what);
    return { length, at: (k) => start + 4 + k * elem };
  }
  string(pos: number, what: string): string {
    const start = this.deref(pos, what);
    const length = this.u32(start, what);
    this.need(start + 4, length, what);
    const bytes = this.buf.subarray(start + 4, start + 4 + Math.min(length, MAX_NAME * 4));
    return new TextDecoder("utf-8", { fatal: false }).decode(bytes).slice(0, MAX_NAME);
  }
}

/** Where the root table is and its schema version: the checks every TFLite file must pass. */
function readHeader(buf: Uint8Array): { root: number; schemaVersion: number | null } {
  const bad = (why: string) => new TfliteFormatError(why);
  if (buf.length < 16) throw bad(`only ${buf.length} bytes`);
  const ident = String.fromCharCode(...buf.subarray(4, 8));
  if (ident !== "TFL3") throw bad(`file identifier is ${JSON.stringify(ident)}, expected "TFL3"`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const root = view.getUint32(0, true);
  if (root < 8 || root + 4 > buf.length) throw bad(`root table offset ${root} is outside the ${buf.length}-byte file`);
  const vtable = root - view.getInt32(root, true);
  if (vtable < 0 || vtable + 4 > buf.length) throw bad(`vtable offset ${vtable} is outside the file`);
  const vtableSize = view.getUint16(vtable, true);
  const tableSize = view.getUint16(vtable + 2, true);
  if (vtableSize < 4 || vtable + vtableSize > buf.length || root + tableSize > buf.length)
    throw bad("vtable or root table runs past the end of the file");
  let schemaVersion: number | null = null;
  if (vtableSize >= 6) {
    const off = view.getUint16(vtable + 4, true);
    if (off) {
      if (root + off + 4 > buf.length) throw bad("version field runs past the end of the file");
      schemaVersion = view.getUint32(root + off, true);
    }
  }
  return { root, schemaVersion };
}

function readQuantization(f: Flat, pos: number, what: string): TfliteQuantization | undefined {
  const q = f.table(f.deref(pos, what), what);
  const floats = (field: number, name: string) => {
    if (!q(field)) return [];
    const v = f.vector(q(field), 4, `${what} ${name}`);
    return Array.from({ length: Math.min(v.length, MAX_LISTED) }, (_, k) => f.f32(v.at(k), `${what} ${name}`));
  };
  const scale = floats(2, "scale");
  if (scale.length === 0) return undefined; // min/max only, or empty: not quantized
  let zeroPoint: number[] = [];
  if (q(3)) {
    const v = f.vector(q(3), 8, `${what} zero_point`);
    zeroPoint = Array.from({ length: Math.min(v.length, MAX_LISTED) }, (_, k) => f.i64(v.at(k), `${what} zero_point`));
  }
  const axis = q(6) ? f.i32(q(6), `${what} quantized_dimension`) : 0;
  return { scale, zeroPoint, axis };
}

/** Reads what a TFLite model declares. Throws TfliteFormatError naming the first thing out of place. */
export function readTfliteModel(buf: Uint8Array): { schemaVersion: number | null } & TfliteDetails {
  const { root, schemaVersion } = readHeader(buf);
  const f = new Flat(buf);
  const model = f.table(root, "the model table");

  const opcodes: Array<{ builtin: number; custom: string | null }> = [];
  if (model(1)) {
    const v = f.vector(model(1), 4, "operator_codes");
    for (let k = 0; k < v.length; k++) {
      const what = `operator code ${k}`;
      const oc = f.table(f.deref(v.at(k), what), what);
      const deprecated = oc(0) ? f.i8(oc(0), what) : 0;
      const builtin = Math.max(deprecated, oc(3) ? f.i32(oc(3), what) : 0);
      opcodes.push({ builtin, custom: oc(1) ? f.string(oc(1), `${what}'s custom_code`) : null });
    }
  }

  // Buffer k holds constant data: inline (`data`) or, in large models, at `offset`/`size` after the flatbuffer.
  const bufferBytes: number[] = [];
  if (model(4)) {
    const v = f.vector(model(4), 4, "buffers");
    for (let k = 0; k < v.length; k++) {
      const what = `buffer ${k}`;
      const b = f.table(f.deref(v.at(k), what), what);
      let bytes = b(0) ? f.vector(b(0), 1, `${what}'s data`).length : 0;
      if (b(1) && b(2)) {
        const offset = f.u64(b(1), what);
        const size = f.u64(b(2), what);
        if (offset > 1 && offset + size > buf.length)
          throw new TfliteFormatError(
            `${what} (${size} bytes at ${offset}) runs past the end of the ${buf.length}-byte file`,
          );
        bytes = Math.max(bytes, offset > 1 ? size : 0);
      }
      bufferBytes.push(bytes);
    }
  }

  if (!model(2)) throw new TfliteFormatError("the model has no subgraphs");
  const subgraphs = f.vector(model(2), 4, "subgraphs");
  if (subgraphs.length === 0) throw new TfliteFormatError("the model has no subgraphs");
  let parameterCount = 0;
  let operators = 0;
  const customOps = new Set<string>();
  let main: { tensors: TfliteTensor[]; inputs: number[]; outputs: number[] } | null = null;
  for (let s = 0; s < subgraphs.length; s++) {
    const sgWhat = `subgraph ${s}`;
    const sg = f.table(f.deref(subgraphs.at(s), sgWhat), sgWhat);
    const tensors: TfliteTensor[] = [];
    const tv = sg(0) ? f.vector(sg(0), 4, `${sgWhat}'s tensors`) : { length: 0, at: () => 0 };
    for (let k = 0; k < tv.length; k++) {
      const what = `${sgWhat} tensor ${k}`;
      const t = f.table(f.deref(tv.at(k), what), what);
      const ints = (field: number, name: string) => {
        const v = f.vector(t(field), 4, `${what}'s ${name}`);
        if (v.length > 64) throw new TfliteFormatError(`${what} has rank ${v.length}`);
        return Array.from({ length: v.length }, (_, j) => f.i32(v.at(j), `${what}'s ${name}`));
      };
      const shape = t(0) ? ints(0, "shape") : [];
      const signature = t(7) ? ints(7, "shape_signature") : null;
      const type = t(1) ? f.u8(t(1), what) : 0;
      const buffer = t(2) ? f.u32(t(2), what) : 0;
      if (buffer !== 0 && buffer >= bufferBytes.length)
        throw new TfliteFormatError(`${what} names buffer ${buffer}, but the model has ${bufferBytes.length}`);
      if (buffer > 0 && (bufferBytes[buffer] ?? 0) > 0) parameterCount += shape.reduce((a, b) => a * Math.max(b, 0), 1);
      const quantization = t(4) ? readQuantization(f, t(4), `${what}'s quantization`) : undefined;
      tensors.push({
        index: k,
        name: t(3) ? f.string(t(3), `${what}'s name`) : "",
        dtype: TENSOR_TYPES[type] ?? `type ${type}`,
        shape: signature && signature.length === shape.length ? signature : shape,
        ...(quantization ? { quantization } : {}),
      });
    }
    const indices = (field: number, name: string) => {
      if (!sg(field)) return [];
      const v = f.vector(sg(field), 4, `${sgWhat}'s ${name}`);
      return Array.from({ length: Math.min(v.length, MAX_LISTED) }, (_, j) => {
        const i = f.i32(v.at(j), `${sgWhat}'s ${name}`);
        if (i < 0 || i >= tensors.length)
          throw new TfliteFormatError(`${sgWhat}'s ${name} name tensor ${i}, but it has ${tensors.length}`);
        return i;
      });
    };
    const inputs = indices(1, "inputs");
    const outputs = indices(2, "outputs");
    if (sg(3)) {
      const ov = f.vector(sg(3), 4, `${sgWhat}'s operators`);
      operators += ov.length;
      for (let k = 0; k < ov.length; k++) {
        const what = `${sgWhat} operator ${k}`;
        const op = f.table(f.deref(ov.at(k), what), what);
        const index = op(0) ? f.u32(op(0), what) : 0;
        const code = opcodes[index];
        if (!code)
          throw new TfliteFormatError(`${what} uses operator code ${index}, but the model has ${opcodes.length}`);
        if (code.builtin === BUILTIN_CUSTOM) customOps.add(code.custom ?? "(unnamed)");
      }
    }
    if (s === 0) main = { tensors, inputs, outputs };
  }

  const signatures: TfliteSignature[] = [];
  if (model(7)) {
    const v = f.vector(model(7), 4, "signature_defs");
    for (let k = 0; k < Math.min(v.length, MAX_LISTED); k++) {
      const what = `signature def ${k}`;
      const sd = f.table(f.deref(v.at(k), what), what);
      const maps = (field: number, name: string) => {
        if (!sd(field)) return [];
        const mv = f.vector(sd(field), 4, `${what}'s ${name}`);
        return Array.from({ length: Math.min(mv.length, MAX_LISTED) }, (_, j) => {
          const mWhat = `${what}'s ${name} ${j}`;
          const m = f.table(f.deref(mv.at(j), mWhat), mWhat);
          return { name: m(0) ? f.string(m(0), mWhat) : "", tensor: m(1) ? f.u32(m(1), mWhat) : 0 };
        });
      };
      signatures.push({
        key: sd(2) ? f.string(sd(2), `${what}'s key`) : "",
        inputs: maps(0, "inputs"),
        outputs: maps(1, "outputs"),
      });
    }
  }

  const m = main!;
  return {
    schemaVersion,
    subgraphs: subgraphs.length,
    inputs: m.inputs.map((i) => m.tensors[i]!),
    outputs: m.outputs.map((i) => m.tensors[i]!),
    signatures,
    customOps: [...customOps].sort(),
    operators,
    parameterCount,
  };
}

/** The static verdict on a TFLite file: the header must hold; the declared tensors are read where they can be. */
export function inspectTflite(buf: Buffer): TfliteInfo {
  let header: { schemaVersion: number | null };
  try {
    header = readHeader(buf);
  } catch (err) {
    throw new AppError("unprocessable_entity", `not a valid TFLite model: ${(err as Error).message}`);
  }
  try {
    const { schemaVersion: _v, ...details } = readTfliteModel(buf);
    return { size: buf.length, schemaVersion: header.schemaVersion, details };
  } catch (err) {
    if (!(err instanceof TfliteFormatError)) throw err;
    return { size: buf.length, schemaVersion: header.schemaVersion, details: null, detailsError: err.message };
  }
}
