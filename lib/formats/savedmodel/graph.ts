// Full decoding of the graphs inside saved_model.pb, for conversion: MetaGraphDefs with their
// GraphDef (NodeDef with every attribute), the FunctionDefLibrary, SignatureDefs and SaverDef, and
// TensorProto constants. It uses the same strict wire reader as the static inspection, and adds the
// limits a converter needs on untrusted input: total size, node and function counts, attribute
// nesting depth and constant sizes. Malformed input throws GraphDecodeError naming what was wrong.
import { asInt64, asString, fields, packedVarints, ProtobufError, type Field } from "../protobuf.ts";

export class GraphDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GraphDecodeError";
  }
}

export const DECODE_LIMITS = {
  maxBytes: 1024 * 1024 * 1024,
  maxMetaGraphs: 64,
  maxNodes: 2_000_000,
  maxFunctions: 100_000,
  maxAttrDepth: 16,
  maxTensorElements: 256 * 1024 * 1024,
  maxDims: 64,
};

export const DTYPE_NAMES: Record<number, string> = {
  1: "DT_FLOAT",
  2: "DT_DOUBLE",
  3: "DT_INT32",
  4: "DT_UINT8",
  5: "DT_INT16",
  6: "DT_INT8",
  7: "DT_STRING",
  8: "DT_COMPLEX64",
  9: "DT_INT64",
  10: "DT_BOOL",
  11: "DT_QINT8",
  12: "DT_QUINT8",
  13: "DT_QINT32",
  14: "DT_BFLOAT16",
  15: "DT_QINT16",
  16: "DT_QUINT16",
  17: "DT_UINT16",
  18: "DT_COMPLEX128",
  19: "DT_HALF",
  20: "DT_RESOURCE",
  21: "DT_VARIANT",
  22: "DT_UINT32",
  23: "DT_UINT64",
};
export const DTYPE_CODES: Record<string, number> = Object.fromEntries(
  Object.entries(DTYPE_NAMES).map(([k, v]) => [v, Number(k)]),
);

export function dtypeName(n: number): string {
  if (n > 100 && DTYPE_NAMES[n - 100]) return `${DTYPE_NAMES[n - 100]}_REF`;
  return DTYPE_NAMES[n] ?? `DT_UNKNOWN_${n}`;
}

/** Bytes per element of the fixed-width dtypes. */
export const DTYPE_BYTES: Record<number, number> = {
  1: 4,
  2: 8,
  3: 4,
  4: 1,
  5: 2,
  6: 1,
  8: 8,
  9: 8,
  10: 1,
  14: 2,
  17: 2,
  18: 16,
  19: 2,
  22: 4,
  23: 8,
};

export type Shape = { dims: number[] | null };

export type TensorProto = {
  dtype: number;
  shape: number[];
  /** tensor_content, when the values are packed as raw little-endian bytes. */
  content: Buffer | null;
  /** The typed repeated fields, as found (TF repeats the last value to fill the shape). */
  floats: number[];
  doubles: number[];
  ints: bigint[];
  int64s: bigint[];
  uint64s: bigint[];
  bools: boolean[];
  strings: Buffer[];
  halfs: number[];
  unknownShape?: true;
};

export type AttrValue =
  | { kind: "s"; s: Buffer }
  | { kind: "i"; i: bigint }
  | { kind: "f"; f: number }
  | { kind: "b"; b: boolean }
  | { kind: "type"; type: number }
  | { kind: "shape"; shape: Shape }
  | { kind: "tensor"; tensor: TensorProto }
  | { kind: "func"; func: NameAttrList }
  | { kind: "placeholder"; placeholder: string }
  | { kind: "list"; list: AttrList };

export type AttrList = {
  s: Buffer[];
  i: bigint[];
  f: number[];
  b: boolean[];
  type: number[];
  shape: Shape[];
  tensor: TensorProto[];
  func: NameAttrList[];
};
export type NameAttrList = { name: string; attr: Record<string, AttrValue> };

export type NodeDef = { name: string; op: string; input: string[]; device: string; attr: Record<string, AttrValue> };
export type ArgDef = {
  name: string;
  type: number;
  typeAttr: string;
  numberAttr: string;
  typeListAttr: string;
  isRef: boolean;
};
export type FunctionDef = {
  name: string;
  inputArgs: ArgDef[];
  outputArgs: ArgDef[];
  attr: Record<string, AttrValue>;
  nodes: NodeDef[];
  ret: Record<string, string>;
  controlRet: Record<string, string>;
};
export type GraphDef = { nodes: NodeDef[]; functions: Map<string, FunctionDef> };
export type TensorInfo = { key: string; name: string; dtype: number; shape: number[] | null; composite: boolean };
export type SignatureDef = { key: string; method: string; inputs: TensorInfo[]; outputs: TensorInfo[] };
export type SaverDef = { filenameTensor: string; saveTensor: string; restoreOp: string };
export type DecodedMetaGraph = {
  tags: string[];
  tensorflowVersion: string | null;
  graph: GraphDef;
  saver: SaverDef | null;
  signatures: SignatureDef[];
};

const utf8 = (b: Buffer) => asString(b);

function float32(b: Buffer): number {
  return b.readFloatLE(0);
}

function packedFixed(f: Field, width: 4 | 8, read: (b: Buffer, o: number) => number): number[] {
  if (f.wire === 5 || f.wire === 1) return [read(f.value, 0)];
  if (f.wire !== 2) throw new ProtobufError(`field ${f.field}: expected fixed-width values`);
  if (f.value.length % width !== 0)
    throw new ProtobufError(`field ${f.field}: packed length ${f.value.length} is not a multiple of ${width}`);
  const out: number[] = new Array(f.value.length / width);
  for (let k = 0; k < out.length; k++) out[k] = read(f.value, k * width);
  return out;
}
const packedFloats = (f: Field) => packedFixed(f, 4, (b, o) => b.readFloatLE(o));
const packedDoubles = (f: Field) => packedFixed(f, 8, (b, o) => b.readDoubleLE(o));

export function decodeShape(buf: Buffer): Shape {
  const dims: number[] = [];
  let unknownRank = false;
  for (const f of fields(buf)) {
    if (f.field === 3 && f.wire === 0 && f.value !== 0n) unknownRank = true;
    else if (f.field === 2 && f.wire === 2) {
      if (dims.length >= DECODE_LIMITS.maxDims)
        throw new ProtobufError(`a shape has more than ${DECODE_LIMITS.maxDims} dimensions`);
      let size = -1;
      for (const d of fields(f.value)) if (d.field === 1 && d.wire === 0) size = Number(asInt64(d.value));
      if (size < -1) throw new ProtobufError(`a shape has dimension ${size}`);
      dims.push(size);
    }
  }
  return { dims: unknownRank ? null : dims };
}

export function decodeTensor(buf: Buffer): TensorProto {
  const t: TensorProto = {
    dtype: 0,
    shape: [],
    content: null,
    floats: [],
    doubles: [],
    ints: [],
    int64s: [],
    uint64s: [],
    bools: [],
    strings: [],
    halfs: [],
  };
  for (const f of fields(buf)) {
    switch (f.field) {
      case 1:
        if (f.wire === 0) t.dtype = Number(f.value);
        break;
      case 2:
        if (f.wire === 2) {
          const s = decodeShape(f.value);
          // Only a Const's value must have a full shape (tensorValues checks); other tensor attributes may not.
          if (s.dims === null || s.dims.some((d) => d < 0)) t.unknownShape = true;
          else t.shape = s.dims;
        }
        break;
      case 4:
        if (f.wire === 2) t.content = f.value;
        break;
      case 5:
        t.floats.push(...packedFloats(f));
        break;
      case 6:
        t.doubles.push(...packedDoubles(f));
        break;
      case 7:
        for (const v of packedVarints(f)) t.ints.push(BigInt.asIntN(32, v));
        break;
      case 8:
        if (f.wire === 2) t.strings.push(f.value);
        break;
      case 10:
        for (const v of packedVarints(f)) t.int64s.push(asInt64(v));
        break;
      case 11:
        for (const v of packedVarints(f)) t.bools.push(v !== 0n);
        break;
      case 13:
        for (const v of packedVarints(f)) t.halfs.push(Number(v & 0xffffn));
        break;
      case 16:
        for (const v of packedVarints(f)) t.ints.push(BigInt.asUintN(32, v));
        break;
      case 17:
        for (const v of packedVarints(f)) t.uint64s.push(BigInt.asUintN(64, v));
        break;
      default:
        break; // complex, resource and variant values are not decoded: conversion refuses those dtypes
    }
  }
  const elements = t.shape.reduce((a, b) => a * b, 1);
  if (elements > DECODE_LIMITS.maxTensorElements)
    throw new ProtobufError(`a constant tensor has ${elements} elements (limit ${DECODE_LIMITS.maxTensorElements})`);
  return t;
}

function emptyList(): AttrList {
  return { s: [], i: [], f: [], b: [], type: [], shape: [], tensor: [], func: [] };
}

function decodeList(buf: Buffer, depth: number): AttrList {
  const l = emptyList();
  for (const f of fields(buf)) {
    switch (f.field) {
      case 2:
        if (f.wire === 2) l.s.push(f.value);
        break;
      case 3:
        for (const v of packedVarints(f)) l.i.push(asInt64(v));
        break;
      case 4:
        l.f.push(...packedFloats(f));
        break;
      case 5:
        for (const v of packedVarints(f)) l.b.push(v !== 0n);
        break;
      case 6:
        for (const v of packedVarints(f)) l.type.push(Number(v));
        break;
      case 7:
        if (f.wire === 2) l.shape.push(decodeShape(f.value));
        break;
      case 8:
        if (f.wire === 2) l.tensor.push(decodeTensor(f.value));
        break;
      case 9:
        if (f.wire === 2) l.func.push(decodeNameAttrList(f.value, depth + 1));
        break;
    }
  }
  return l;
}

function decodeNameAttrList(buf: Buffer, depth: number): NameAttrList {
  const out: NameAttrList = { name: "", attr: {} };
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wire === 2) out.name = utf8(f.value);
    else if (f.field === 2 && f.wire === 2) {
      const [k, v] = attrEntry(f.value, depth + 1);
      out.attr[k] = v;
    }
  }
  return out;
}

export function decodeAttrValue(buf: Buffer, depth = 0): AttrValue {
  if (depth > DECODE_LIMITS.maxAttrDepth)
    throw new ProtobufError(`attribute values nest deeper than ${DECODE_LIMITS.maxAttrDepth} levels`);
  let out: AttrValue | null = null;
  for (const f of fields(buf)) {
    switch (f.field) {
      case 1:
        if (f.wire === 2) out = { kind: "list", list: decodeList(f.value, depth) };
        break;
      case 2:
        if (f.wire === 2) out = { kind: "s", s: f.value };
        break;
      case 3:
        if (f.wire === 0) out = { kind: "i", i: asInt64(f.value) };
        break;
      case 4:
        if (f.wire === 5) out = { kind: "f", f: float32(f.value) };
        break;
      case 5:
        if (f.wire === 0) out = { kind: "b", b: f.value !== 0n };
        break;
      case 6:
        if (f.wire === 0) out = { kind: "type", type: Number(f.value) };
        break;
      case 7:
        if (f.wire === 2) out = { kind: "shape", shape: decodeShape(f.value) };
        break;
      case 8:
        if (f.wire === 2) out = { kind: "tensor", tensor: decodeTensor(f.value) };
        break;
      case 9:
        if (f.wire === 2) out = { kind: "placeholder", placeholder: utf8(f.value) };
        break;
      case 10:
        if (f.wire === 2) out = { kind: "func", func: decodeNameAttrList(f.value, depth) };
        break;
    }
  }
  // An empty AttrValue is an empty list (e.g. `explicit_paddings: []`).
  return out ?? { kind: "list", list: emptyList() };
}

function attrEntry(buf: Buffer, depth: number): [string, AttrValue] {
  let key = "";
  let value: AttrValue = { kind: "list", list: emptyList() };
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wire === 2) key = utf8(f.value);
    else if (f.field === 2 && f.wire === 2) value = decodeAttrValue(f.value, depth);
  }
  return [key, value];
}

export function decodeNode(buf: Buffer): NodeDef {
  const n: NodeDef = { name: "", op: "", input: [], device: "", attr: {} };
  for (const f of fields(buf)) {
    if (f.wire !== 2) continue;
    if (f.field === 1) n.name = utf8(f.value);
    else if (f.field === 2) n.op = utf8(f.value);
    else if (f.field === 3) n.input.push(utf8(f.value));
    else if (f.field === 4) n.device = utf8(f.value);
    else if (f.field === 5) {
      const [k, v] = attrEntry(f.value, 0);
      n.attr[k] = v;
    }
  }
  if (!n.name) throw new ProtobufError("a node has no name");
  if (!n.op) throw new ProtobufError(`node '${n.name}' has no op`);
  return n;
}

function decodeArg(buf: Buffer): ArgDef {
  const a: ArgDef = { name: "", type: 0, typeAttr: "", numberAttr: "", typeListAttr: "", isRef: false };
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wire === 2) a.name = utf8(f.value);
    else if (f.field === 3 && f.wire === 0) a.type = Number(f.value);
    else if (f.field === 4 && f.wire === 2) a.typeAttr = utf8(f.value);
    else if (f.field === 5 && f.wire === 2) a.numberAttr = utf8(f.value);
    else if (f.field === 6 && f.wire === 2) a.typeListAttr = utf8(f.value);
    else if (f.field === 16 && f.wire === 0) a.isRef = f.value !== 0n;
  }
  return a;
}

function stringMapEntry(buf: Buffer): [string, string] {
  let k = "";
  let v = "";
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wire === 2) k = utf8(f.value);
    else if (f.field === 2 && f.wire === 2) v = utf8(f.value);
  }
  return [k, v];
}

function decodeFunction(buf: Buffer, budget: { nodes: number }): FunctionDef {
  const fn: FunctionDef = { name: "", inputArgs: [], outputArgs: [], attr: {}, nodes: [], ret: {}, controlRet: {} };
  for (const f of fields(buf)) {
    if (f.wire !== 2) continue;
    if (f.field === 1) {
      for (const s of fields(f.value)) {
        if (s.wire !== 2) continue;
        if (s.field === 1) fn.name = utf8(s.value);
        else if (s.field === 2) fn.inputArgs.push(decodeArg(s.value));
        else if (s.field === 3) fn.outputArgs.push(decodeArg(s.value));
      }
    } else if (f.field === 3) {
      if (++budget.nodes > DECODE_LIMITS.maxNodes) throw new ProtobufError(`more than ${DECODE_LIMITS.maxNodes} nodes`);
      fn.nodes.push(decodeNode(f.value));
    } else if (f.field === 4) {
      const [k, v] = stringMapEntry(f.value);
      fn.ret[k] = v;
    } else if (f.field === 5) {
      const [k, v] = attrEntry(f.value, 0);
      fn.attr[k] = v;
    } else if (f.field === 6) {
      const [k, v] = stringMapEntry(f.value);
      fn.controlRet[k] = v;
    }
  }
  if (!fn.name) throw new ProtobufError("a library function has no name");
  return fn;
}

export function decodeGraph(buf: Buffer, budget = { nodes: 0 }): GraphDef {
  const g: GraphDef = { nodes: [], functions: new Map() };
  for (const f of fields(buf)) {
    if (f.wire !== 2) continue;
    if (f.field === 1) {
      if (++budget.nodes > DECODE_LIMITS.maxNodes) throw new ProtobufError(`more than ${DECODE_LIMITS.maxNodes} nodes`);
      g.nodes.push(decodeNode(f.value));
    } else if (f.field === 2) {
      for (const lf of fields(f.value)) {
        if (lf.field !== 1 || lf.wire !== 2) continue; // gradients (field 2) are not needed
        if (g.functions.size >= DECODE_LIMITS.maxFunctions)
          throw new ProtobufError(`more than ${DECODE_LIMITS.maxFunctions} library functions`);
        const fn = decodeFunction(lf.value, budget);
        if (g.functions.has(fn.name)) throw new ProtobufError(`library function '${fn.name}' is defined twice`);
        g.functions.set(fn.name, fn);
      }
    }
  }
  return g;
}

function decodeTensorInfo(key: string, buf: Buffer): TensorInfo {
  const t: TensorInfo = { key, name: "", dtype: 0, shape: null, composite: false };
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wire === 2) t.name = utf8(f.value);
    else if (f.field === 2 && f.wire === 0) t.dtype = Number(f.value);
    else if (f.field === 3 && f.wire === 2) t.shape = decodeShape(f.value).dims;
    else if ((f.field === 4 || f.field === 5) && f.wire === 2) t.composite = true;
  }
  return t;
}

export function mapEntry(buf: Buffer): [string, Buffer] {
  let key = "";
  let value: Buffer = Buffer.alloc(0);
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wire === 2) key = utf8(f.value);
    else if (f.field === 2 && f.wire === 2) value = f.value;
  }
  return [key, value];
}

export function decodeSignature(key: string, buf: Buffer): SignatureDef {
  const sig: SignatureDef = { key, method: "", inputs: [], outputs: [] };
  for (const f of fields(buf)) {
    if (f.wire !== 2) continue;
    if (f.field === 1 || f.field === 2) {
      const [k, v] = mapEntry(f.value);
      (f.field === 1 ? sig.inputs : sig.outputs).push(decodeTensorInfo(k, v));
    } else if (f.field === 3) sig.method = utf8(f.value);
  }
  sig.inputs.sort((a, b) => a.key.localeCompare(b.key));
  sig.outputs.sort((a, b) => a.key.localeCompare(b.key));
  return sig;
}

function decodeSaver(buf: Buffer): SaverDef {
  const s: SaverDef = { filenameTensor: "", saveTensor: "", restoreOp: "" };
  for (const f of fields(buf)) {
    if (f.wire !== 2) continue;
    if (f.field === 1) s.filenameTensor = utf8(f.value);
    else if (f.field === 2) s.saveTensor = utf8(f.value);
    else if (f.field === 3) s.restoreOp = utf8(f.value);
  }
  return s;
}

/** Decodes every MetaGraphDef of a saved_model.pb (or a TF1 Hub module's saved_model.pb). */
export function decodeSavedModel(pb: Buffer): DecodedMetaGraph[] {
  if (pb.length > DECODE_LIMITS.maxBytes)
    throw new GraphDecodeError(`saved_model.pb is ${pb.length} bytes (limit ${DECODE_LIMITS.maxBytes})`);
  try {
    const out: DecodedMetaGraph[] = [];
    const budget = { nodes: 0 };
    for (const f of fields(pb)) {
      if (f.field !== 2 || f.wire !== 2) continue;
      if (out.length >= DECODE_LIMITS.maxMetaGraphs)
        throw new ProtobufError(`more than ${DECODE_LIMITS.maxMetaGraphs} meta graphs`);
      const mg: DecodedMetaGraph = {
        tags: [],
        tensorflowVersion: null,
        graph: { nodes: [], functions: new Map() },
        saver: null,
        signatures: [],
      };
      for (const m of fields(f.value)) {
        if (m.wire !== 2) continue;
        if (m.field === 1) {
          for (const i of fields(m.value)) {
            if (i.field === 4 && i.wire === 2) mg.tags.push(utf8(i.value));
            if (i.field === 5 && i.wire === 2) mg.tensorflowVersion = utf8(i.value);
          }
        } else if (m.field === 2) mg.graph = decodeGraph(m.value, budget);
        else if (m.field === 3) mg.saver = decodeSaver(m.value);
        else if (m.field === 5) {
          const [k, v] = mapEntry(m.value);
          if (k !== "__saved_model_init_op") mg.signatures.push(decodeSignature(k, v));
        }
      }
      mg.signatures.sort((a, b) => a.key.localeCompare(b.key));
      out.push(mg);
    }
    if (out.length === 0) throw new ProtobufError("it has no meta graphs");
    return out;
  } catch (err) {
    if (err instanceof ProtobufError || err instanceof RangeError)
      throw new GraphDecodeError(`saved_model.pb is not a valid SavedModel: ${err.message}`);
    throw err;
  }
}

/** Number of elements of a shape. */
export const elementsOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The values of a constant tensor as a flat array in TF.js terms: float32 for floating types, int32
 * for integer types (refusing values outside int32), Uint8Array (0/1) for bool, byte strings for
 * DT_STRING. Throws GraphDecodeError for dtypes TF.js cannot hold.
 */
export type TensorValues =
  | { dtype: "float32"; values: Float32Array }
  | { dtype: "int32"; values: Int32Array }
  | { dtype: "bool"; values: Uint8Array }
  | { dtype: "string"; values: Buffer[] };

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function fill<T>(found: ArrayLike<T>, n: number, what: string): (k: number) => T {
  if (found.length === 0) throw new GraphDecodeError(`${what} has no values`);
  if (found.length > n) throw new GraphDecodeError(`${what} has ${found.length} values for ${n} elements`);
  return (k) => found[Math.min(k, found.length - 1)]!;
}

function int32Checked(v: bigint | number, what: string): number {
  const n = typeof v === "bigint" ? v : BigInt(v);
  if (n < -2147483648n || n > 2147483647n)
    throw new GraphDecodeError(`${what} holds ${n}, which does not fit in TF.js int32`);
  return Number(n);
}

/** Converts raw little-endian bytes of `dtype` (a checkpoint entry or tensor_content) to TF.js values. */
export function valuesFromBytes(dtype: number, bytes: Buffer, n: number, what: string): TensorValues {
  const per = DTYPE_BYTES[dtype];
  if (dtype === 7) throw new GraphDecodeError(`${what}: string tensors are read with stringsFromBundle`);
  if (per === undefined || dtype === 8 || dtype === 18 || (dtype >= 11 && dtype <= 16 && dtype !== 14))
    throw new GraphDecodeError(`${what} has dtype ${dtypeName(dtype)}, which TF.js cannot hold`);
  if (bytes.length !== n * per)
    throw new GraphDecodeError(`${what} has ${bytes.length} bytes for ${n} elements of ${dtypeName(dtype)}`);
  const at = (k: number) => k * per;
  switch (dtype) {
    case 1: {
      const out = new Float32Array(n);
      for (let k = 0; k < n; k++) out[k] = bytes.readFloatLE(at(k));
      return { dtype: "float32", values: out };
    }
    case 2: {
      const out = new Float32Array(n);
      for (let k = 0; k < n; k++) out[k] = bytes.readDoubleLE(at(k));
      return { dtype: "float32", values: out };
    }
    case 19: {
      const out = new Float32Array(n);
      for (let k = 0; k < n; k++) out[k] = halfToFloat(bytes.readUInt16LE(at(k)));
      return { dtype: "float32", values: out };
    }
    case 14: {
      const out = new Float32Array(n);
      const b = Buffer.alloc(4);
      for (let k = 0; k < n; k++) {
        b.writeUInt16LE(0, 0);
        b.writeUInt16LE(bytes.readUInt16LE(at(k)), 2);
        out[k] = b.readFloatLE(0);
      }
      return { dtype: "float32", values: out };
    }
    case 10: {
      const out = new Uint8Array(n);
      for (let k = 0; k < n; k++) out[k] = bytes[k] ? 1 : 0;
      return { dtype: "bool", values: out };
    }
    default: {
      const out = new Int32Array(n);
      for (let k = 0; k < n; k++) {
        const o = at(k);
        const v =
          dtype === 3
            ? bytes.readInt32LE(o)
            : dtype === 4
              ? bytes.readUInt8(o)
              : dtype === 5
                ? bytes.readInt16LE(o)
                : dtype === 6
                  ? bytes.readInt8(o)
                  : dtype === 17
                    ? bytes.readUInt16LE(o)
                    : dtype === 22
                      ? int32Checked(bytes.readUInt32LE(o), what)
                      : dtype === 9
                        ? int32Checked(bytes.readBigInt64LE(o), what)
                        : int32Checked(bytes.readBigUInt64LE(o), what);
        out[k] = v;
      }
      return { dtype: "int32", values: out };
    }
  }
}

/** The values of a TensorProto (a Const node's `value`). */
export function tensorValues(t: TensorProto, what: string): TensorValues {
  if (t.unknownShape) throw new GraphDecodeError(`${what} has no complete shape`);
  const n = elementsOf(t.shape);
  if (t.dtype === 7) {
    if (t.strings.length === 0 && n > 0) throw new GraphDecodeError(`${what} has no values`);
    const get = n === 0 ? () => Buffer.alloc(0) : fill(t.strings, n, what);
    return { dtype: "string", values: Array.from({ length: n }, (_, k) => get(k)) };
  }
  if (t.content) return valuesFromBytes(t.dtype, t.content, n, what);
  if (n === 0) return valuesFromBytes(t.dtype, Buffer.alloc(0), 0, what);
  switch (t.dtype) {
    case 1: {
      const get = fill(t.floats, n, what);
      return { dtype: "float32", values: Float32Array.from({ length: n }, (_, k) => get(k)) };
    }
    case 2: {
      const get = fill(t.doubles, n, what);
      return { dtype: "float32", values: Float32Array.from({ length: n }, (_, k) => get(k)) };
    }
    case 19:
    case 14: {
      const get = fill(t.halfs, n, what);
      const b = Buffer.alloc(2 * n);
      for (let k = 0; k < n; k++) b.writeUInt16LE(get(k), 2 * k);
      return valuesFromBytes(t.dtype, b, n, what);
    }
    case 10: {
      const get = fill(t.bools, n, what);
      return { dtype: "bool", values: Uint8Array.from({ length: n }, (_, k) => (get(k) ? 1 : 0)) };
    }
    case 3:
    case 4:
    case 5:
    case 6:
    case 17:
    case 22: {
      const get = fill(t.ints, n, what);
      return { dtype: "int32", values: Int32Array.from({ length: n }, (_, k) => int32Checked(get(k), what)) };
    }
    case 9: {
      const get = fill(t.int64s, n, what);
      return { dtype: "int32", values: Int32Array.from({ length: n }, (_, k) => int32Checked(get(k), what)) };
    }
    case 23: {
      const get = fill(t.uint64s, n, what);
      return { dtype: "int32", values: Int32Array.from({ length: n }, (_, k) => int32Checked(get(k), what)) };
    }
    default:
      throw new GraphDecodeError(`${what} has dtype ${dtypeName(t.dtype)}, which TF.js cannot hold`);
  }
}
