// SavedModel / TF1 Hub module -> TF.js graph model, in memory, without libtensorflow.
//
// 1. Pick the meta graph (by tags) and the signature (by key).
// 2. Cut the graph at the signature's input tensors: each becomes a Placeholder.
// 3. Walk backwards from the outputs, inlining every StatefulPartitionedCall / PartitionedCall (and
//    direct calls of library functions): the body is copied under the call's name, its arguments
//    bound to the call's inputs, and `node:arg:idx` references resolved to flat output indices with
//    TensorFlow's own op definitions (op-tables.generated.ts). Control edges are dropped, after
//    checking that none of them writes a variable.
// 4. Freeze variables: VarHandleOp / VariableV2 become markers and every read becomes a Const holding
//    the checkpoint value. Variables are matched to checkpoint keys by tracing the saver's restore op
//    (Assign/AssignVariableOp <- Identity <- RestoreV2 output k -> tensor_names[k]), through function
//    calls, which works for TF1 and TF2 alike; TF1 Hub modules have no saver and use the variable's
//    own name. ResourceGather becomes GatherV2.
// 5. While/StatelessWhile/If/StatelessIf stay; their functions are converted the same way (resources
//    frozen into values) into the TF.js library.
// 6. Attributes left at their default are restored from the op definitions.
// 7. Consts become weights (int64/uint8/double/half mapped to TF.js dtypes, refusing values that do
//    not fit).
// What TF.js cannot run ends in UnsupportedModelError naming the op (or the variable write, the
// input, the partitioned variable); a graph that is broken ends in ConversionError naming the node.
import {
  decodeSavedModel,
  dtypeName,
  elementsOf,
  GraphDecodeError,
  tensorValues,
  valuesFromBytes,
  type AttrValue,
  type DecodedMetaGraph,
  type FunctionDef,
  type NodeDef,
  type SignatureDef,
  type TensorValues,
} from "./graph.ts";
import { OP_DEFS, TFJS_OPS, type AttrJson } from "./op-tables.generated.ts";

export const CONVERTER_NAME = "savedmodel-js";
export const CONVERTER_VERSION = "1.0.0";

/** The model uses something TF.js cannot run: the version stays at level `static` with this finding. */
export class UnsupportedModelError extends Error {
  constructor(
    message: string,
    readonly op?: string,
    readonly node?: string,
  ) {
    super(message);
    this.name = "UnsupportedModelError";
  }
}

/** The graph is broken (a missing function, a dangling input, a cyclic call): the version fails. */
export class ConversionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConversionError";
  }
}

export type VariableValue = { dtype: number; shape: number[]; bytes: Buffer; sliced: boolean };
/** Checkpoint access: the converter asks for keys; the tensor bundle answers. */
export type VariableSource = { has(key: string): boolean; read(key: string): VariableValue };

export type NodeJson = {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, AttrJson | { tensor: unknown }>;
  device?: string;
};
export type FunctionJson = {
  signature: {
    name: string;
    inputArg: Array<{ name: string; type: string }>;
    outputArg: Array<{ name: string; type: string }>;
  };
  nodeDef: NodeJson[];
  ret: Record<string, string>;
};
export type WeightSpec = { name: string; shape: number[]; dtype: "float32" | "int32" | "bool" | "string" };
export type IoSpec = { key: string; name: string; dtype: string; tfDtype: string; shape: number[] | null };

export type ConvertedModel = {
  tags: string[];
  signatureKey: string;
  modelTopology: { node: NodeJson[]; library: { function: FunctionJson[] }; versions: { producer: number } };
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
  /** The TF.js `signature` block: inputs and outputs by key, naming the graph's tensors. */
  signature: {
    inputs: Record<string, { name: string; dtype: string; tensorShape?: unknown }>;
    outputs: Record<string, { name: string; dtype: string }>;
  };
  inputs: IoSpec[];
  outputs: IoSpec[];
  stats: {
    nodes: number;
    functions: number;
    inlinedCalls: number;
    frozenVariables: number;
    parameters: number;
    ops: Record<string, number>;
  };
};

export const CONVERT_LIMITS = {
  maxEmittedNodes: 2_000_000,
  maxInlineDepth: 64,
  maxWeightBytes: 2 * 1024 * 1024 * 1024 - 1,
};

const CALL_OPS = new Set(["StatefulPartitionedCall", "PartitionedCall"]);
const VARIABLE_OPS = new Set(["VarHandleOp", "VariableV2", "Variable", "_VarHandlesOp"]);
const CONTROL_FLOW_OPS = new Set(["While", "StatelessWhile", "If", "StatelessIf"]);
const READ_OPS = new Set(["ReadVariableOp"]);
const PASS_OPS = new Set(["Identity", "Snapshot"]);
const WRITE_OP =
  /^(Assign|AssignVariableOp|AssignAdd|AssignSub|AssignAddVariableOp|AssignSubVariableOp|ScatterNd.*Update|ScatterNd(Add|Sub)|Scatter(Update|Add|Sub|Mul|Div|Min|Max)|ResourceScatter.*|ResourceApply.*|Apply.*|ResourceSparseApply.*|SparseApply.*|ResourceStridedSliceAssign|StridedSliceAssign|DestroyResourceOp|CountUpTo|ResourceCountUpTo)$/;
// Ops outside TensorFlow's core registry that exports commonly hold, with what they are.
const KNOWN_NON_CORE: Record<string, string> = {
  XlaCallModule: "a jax2tf export: serialized StableHLO that only TensorFlow's XLA compiler runs",
  XlaSharding: "an XLA op from a TPU or jax2tf export",
};
// Ops handled here rather than by TF.js itself.
const HANDLED_OPS = new Set([...CALL_OPS, ...VARIABLE_OPS, ...READ_OPS, "ResourceGather", "NoOp"]);

type VarInfo = { node: string; key: string; dtype: number; shape: number[] };
type TensorRef = { kind: "tensor"; name: string; index: number; dtype?: number };
type Ref = TensorRef | { kind: "var"; v: VarInfo };
type Outputs = (k: number) => Ref;

const tensorName = (r: { name: string; index: number }) => (r.index === 0 ? r.name : `${r.name}:${r.index}`);

/** Where nodes are written: the main graph or one library function. */
type Emitter = { nodes: NodeJson[]; names: Set<string>; frozen: Map<string, string> };

type Scope = {
  prefix: string;
  where: string;
  body: Map<string, NodeDef>;
  /** In function bodies: argument name -> the value bound to it. */
  args: Map<string, Ref> | null;
  /** Main graph only: "node:k" -> the placeholder that replaces it. */
  cut: Map<string, Ref> | null;
  memo: Map<string, Outputs>;
  inProgress: Set<string>;
  out: Emitter;
  stack: string[];
};

function b64(b: Buffer): string {
  return b.toString("base64");
}

function shapeJson(dims: number[] | null) {
  return dims === null ? { unknownRank: true } : { dim: dims.map((d) => ({ size: String(d) })) };
}

function attrJson(v: AttrValue, mapFunc: (name: string) => string): AttrJson | { tensor: unknown } | null {
  switch (v.kind) {
    case "s":
      return { s: b64(v.s) };
    case "i":
      return { i: String(v.i) };
    case "f":
      return { f: v.f };
    case "b":
      return { b: v.b };
    case "type":
      return { type: dtypeName(v.type) };
    case "shape":
      return { shape: shapeJson(v.shape.dims) };
    case "tensor":
      return { tensor: { dtype: dtypeName(v.tensor.dtype), tensorShape: shapeJson(v.tensor.shape) } };
    case "func":
      return { func: { name: mapFunc(v.func.name) } };
    case "placeholder":
      return null;
    case "list": {
      const l = v.list;
      const list: Record<string, unknown> = {};
      if (l.s.length) list.s = l.s.map(b64);
      if (l.i.length) list.i = l.i.map(String);
      if (l.f.length) list.f = l.f;
      if (l.b.length) list.b = l.b;
      if (l.type.length) list.type = l.type.map(dtypeName);
      if (l.shape.length) list.shape = l.shape.map((s) => shapeJson(s.dims));
      if (l.func.length) list.func = l.func.map((f) => ({ name: mapFunc(f.name) }));
      return { list };
    }
  }
}

/** TF.js dtype names for a TensorFlow dtype, or null where TF.js has none. */
export function tfjsDtype(dtype: number): "float32" | "int32" | "bool" | "string" | null {
  const d = dtype > 100 ? dtype - 100 : dtype;
  if (d === 1 || d === 2 || d === 14 || d === 19) return "float32";
  if (d === 3 || d === 4 || d === 5 || d === 6 || d === 9 || d === 17 || d === 22 || d === 23) return "int32";
  if (d === 10) return "bool";
  if (d === 7) return "string";
  return null;
}

const TFJS_TO_TF: Record<string, string> = {
  float32: "DT_FLOAT",
  int32: "DT_INT32",
  bool: "DT_BOOL",
  string: "DT_STRING",
};

function unsupportedOp(op: string, node: string, where: string): UnsupportedModelError {
  const why =
    KNOWN_NON_CORE[op] ?? (OP_DEFS[op] ? "" : "it is not a TensorFlow core op: a custom op from an extension library");
  return new UnsupportedModelError(
    `op ${op} (node '${node}' in ${where}) is not supported by TF.js${why ? ` (${why})` : ""}`,
    op,
    node,
  );
}

function isSupported(op: string): boolean {
  return TFJS_SET.has(op) || HANDLED_OPS.has(op);
}
const TFJS_SET = new Set<string>(TFJS_OPS);

/** Chooses the meta graph: `tags` when given, else the one tagged serve, else the untagged one (TF1 Hub), else the first. */
export function chooseMetaGraph(metaGraphs: DecodedMetaGraph[], tags?: string[]): DecodedMetaGraph {
  if (tags) {
    const want = [...tags].sort().join(",");
    const mg = metaGraphs.find((m) => [...m.tags].sort().join(",") === want);
    if (!mg)
      throw new ConversionError(
        `no meta graph has tags [${tags.join(", ")}] (found ${metaGraphs.map((m) => `[${m.tags.join(", ")}]`).join(", ")})`,
      );
    return mg;
  }
  return (
    metaGraphs.find((m) => m.tags.includes("serve")) ?? metaGraphs.find((m) => m.tags.length === 0) ?? metaGraphs[0]!
  );
}

/** The signature run by default: serving_default, else default (TF1 Hub), else the first. */
export function defaultSignature(mg: DecodedMetaGraph): SignatureDef | null {
  return (
    mg.signatures.find((s) => s.key === "serving_default") ??
    mg.signatures.find((s) => s.key === "default") ??
    mg.signatures[0] ??
    null
  );
}

class Converter {
  private readonly functions: Map<string, FunctionDef>;
  private readonly mainNodes: Map<string, NodeDef>;
  private readonly weights: Array<{ spec: WeightSpec; data: Uint8Array }> = [];
  private readonly weightNames = new Set<string>();
  private readonly library = new Map<string, FunctionJson | null>();
  private readonly varKeys: Map<string, { key: string; sliced: boolean }>;
  private readonly varInfo = new Map<string, VarInfo>();
  private emitted = 0;
  private inlined = 0;
  private weightBytes = 0;
  readonly opCounts: Record<string, number> = {};

  constructor(
    private readonly mg: DecodedMetaGraph,
    private readonly variables: VariableSource | null,
  ) {
    this.functions = mg.graph.functions;
    this.mainNodes = new Map();
    for (const n of mg.graph.nodes) {
      if (this.mainNodes.has(n.name)) throw new ConversionError(`the graph has two nodes named '${n.name}'`);
      this.mainNodes.set(n.name, n);
    }
    this.varKeys = this.traceRestore();
  }

  // ---- checkpoint keys -------------------------------------------------------------------------

  /** Maps variable node names (main graph) to checkpoint keys by tracing the saver's restore op. */
  private traceRestore(): Map<string, { key: string; sliced: boolean }> {
    const keys = new Map<string, { key: string; sliced: boolean }>();
    const restore = this.mg.saver?.restoreOp.split(":")[0];
    if (!restore || !this.mainNodes.has(restore)) return keys;
    type TScope = { body: Map<string, NodeDef>; args: Map<string, { scope: TScope; ref: string }> | null; fn: boolean };
    const main: TScope = { body: this.mainNodes, args: null, fn: false };
    const visited = new Set<string>();
    let steps = 0;
    // Follows Identity chains and function arguments to the producing node and output index.
    const producer = (
      scope: TScope,
      ref: string,
      depth = 0,
    ): { scope: TScope; node: NodeDef; index: number } | null => {
      if (depth > 256) return null;
      const clean = ref.replace(/^\^/, "");
      const parts = clean.split(":");
      if (scope.fn && parts.length === 1 && scope.args?.has(clean)) {
        const a = scope.args.get(clean)!;
        return producer(a.scope, a.ref, depth + 1);
      }
      const node = scope.body.get(parts[0]!);
      if (!node) return null;
      const index =
        parts.length === 3
          ? this.flatIndex(
              node,
              parts[1]!,
              Number(parts[2]),
              scope.body === this.mainNodes ? "the graph" : "a function",
            )
          : parts.length === 2
            ? Number(parts[1])
            : 0;
      if (PASS_OPS.has(node.op) && node.input[0]) return producer(scope, node.input[0], depth + 1);
      return { scope, node, index };
    };
    const stringsOf = (scope: TScope, ref: string): Buffer[] | null => {
      const p = producer(scope, ref);
      if (!p || p.node.op !== "Const") return null;
      const v = p.node.attr.value;
      if (v?.kind !== "tensor") return null;
      const t = tensorValues(v.tensor, `constant '${p.node.name}'`);
      return t.dtype === "string" ? t.values : null;
    };
    const walk = (scope: TScope, name: string, scopeId: string) => {
      const id = `${scopeId}|${name}`;
      if (visited.has(id) || ++steps > 1_000_000) return;
      visited.add(id);
      const node = scope.body.get(name);
      if (!node) return;
      if (node.op === "Assign" || node.op === "AssignVariableOp") {
        const target = producer(scope, node.input[0] ?? "");
        const source = producer(scope, node.input[1] ?? "");
        if (
          target &&
          target.scope === main &&
          VARIABLE_OPS.has(target.node.op) &&
          source &&
          source.node.op === "RestoreV2"
        ) {
          const names = stringsOf(source.scope, source.node.input[1] ?? "");
          const slices = stringsOf(source.scope, source.node.input[2] ?? "");
          const key = names?.[source.index]?.toString("utf8");
          if (key !== undefined) keys.set(target.node.name, { key, sliced: (slices?.[source.index]?.length ?? 0) > 0 });
        }
      }
      const fname =
        CALL_OPS.has(node.op) && node.attr.f?.kind === "func"
          ? node.attr.f.func.name
          : this.functions.has(node.op)
            ? node.op
            : null;
      if (fname) {
        const fn = this.functions.get(fname);
        if (fn && !scopeId.split("/").includes(fname)) {
          const args = new Map<string, { scope: TScope; ref: string }>();
          const data = node.input.filter((i) => !i.startsWith("^"));
          fn.inputArgs.forEach((a, k) => data[k] !== undefined && args.set(a.name, { scope, ref: data[k] }));
          const inner: TScope = { body: new Map(fn.nodes.map((n) => [n.name, n])), args, fn: true };
          const innerId = `${scopeId}/${fname}@${name}`;
          for (const n of fn.nodes) walk(inner, n.name, innerId);
        }
      }
      for (const i of node.input) {
        const dep = i.replace(/^\^/, "").split(":")[0]!;
        if (scope.fn && scope.args?.has(dep)) continue;
        walk(scope, dep, scopeId);
      }
    };
    walk(main, restore, "");
    return keys;
  }

  private variable(node: NodeDef): VarInfo {
    const cached = this.varInfo.get(node.name);
    if (cached) return cached;
    const traced = this.varKeys.get(node.name);
    if (traced?.sliced)
      throw new UnsupportedModelError(
        `variable '${node.name}' is partitioned (checkpoint key '${traced.key}' is stored as slices): partitioned variables cannot be frozen`,
        node.op,
        node.name,
      );
    // TF1 Hub modules have no saver: the checkpoint key is the variable's own name.
    const key = traced?.key ?? node.name;
    if (!this.variables)
      throw new ConversionError(
        `the signature reads variable '${node.name}' but the model has no variables/ checkpoint`,
      );
    if (!this.variables.has(key))
      throw new ConversionError(`variable '${node.name}' has no value in the checkpoint (looked for key '${key}')`);
    const v = this.variables.read(key);
    if (v.sliced)
      throw new UnsupportedModelError(
        `variable '${node.name}' is partitioned (checkpoint key '${key}' is stored as slices): partitioned variables cannot be frozen`,
        node.op,
        node.name,
      );
    const info: VarInfo = { node: node.name, key, dtype: v.dtype, shape: v.shape };
    this.varInfo.set(node.name, info);
    return info;
  }

  // ---- weights ---------------------------------------------------------------------------------

  private addWeight(name: string, shape: number[], values: TensorValues): void {
    if (this.weightNames.has(name)) return;
    this.weightNames.add(name);
    let data: Uint8Array;
    if (values.dtype === "string") {
      const parts: Buffer[] = [];
      for (const s of values.values) {
        const len = Buffer.alloc(4);
        len.writeUInt32LE(s.length);
        parts.push(len, s);
      }
      data = Buffer.concat(parts);
    } else data = new Uint8Array(values.values.buffer, values.values.byteOffset, values.values.byteLength);
    this.weightBytes += data.byteLength;
    if (this.weightBytes > CONVERT_LIMITS.maxWeightBytes)
      throw new UnsupportedModelError(
        `the model's weights exceed ${CONVERT_LIMITS.maxWeightBytes} bytes, more than TF.js can load at once`,
      );
    this.weights.push({ spec: { name, shape, dtype: values.dtype }, data });
  }

  private readVar(scope: Scope, v: VarInfo): TensorRef {
    const name = `frozen/${v.node}`;
    if (!scope.out.frozen.has(v.node)) {
      const value = this.variables!.read(v.key);
      let values: TensorValues;
      try {
        values =
          value.dtype === 7
            ? { dtype: "string", values: [] }
            : valuesFromBytes(value.dtype, value.bytes, elementsOf(value.shape), `variable '${v.node}'`);
      } catch (err) {
        if (err instanceof GraphDecodeError) throw new UnsupportedModelError(err.message, undefined, v.node);
        throw err;
      }
      if (value.dtype === 7)
        throw new UnsupportedModelError(`variable '${v.node}' holds strings, which are not frozen`, undefined, v.node);
      this.addWeight(name, v.shape, values);
      this.push(scope.out, {
        name,
        op: "Const",
        input: [],
        attr: {
          dtype: { type: TFJS_TO_TF[values.dtype]! },
          value: { tensor: { dtype: TFJS_TO_TF[values.dtype], tensorShape: shapeJson(v.shape) } },
        },
      });
      scope.out.frozen.set(v.node, name);
    }
    return { kind: "tensor", name, index: 0, dtype: v.dtype };
  }

  private push(out: Emitter, node: NodeJson): void {
    if (out.names.has(node.name)) throw new ConversionError(`two converted nodes are named '${node.name}'`);
    if (++this.emitted > CONVERT_LIMITS.maxEmittedNodes)
      throw new ConversionError(`inlining expands the graph past ${CONVERT_LIMITS.maxEmittedNodes} nodes`);
    out.names.add(node.name);
    out.nodes.push(node);
    this.opCounts[node.op] = (this.opCounts[node.op] ?? 0) + 1;
  }

  // ---- references ------------------------------------------------------------------------------

  /** Flat output index of `arg:idx` of `node` (function bodies name outputs by arg). */
  private flatIndex(node: NodeDef, arg: string, idx: number, where: string): number {
    const fname =
      CALL_OPS.has(node.op) && node.attr.f?.kind === "func"
        ? node.attr.f.func.name
        : this.functions.has(node.op)
          ? node.op
          : null;
    if (fname) {
      const fn = this.functions.get(fname);
      if (!fn)
        throw new ConversionError(
          `node '${node.name}' in ${where} calls function '${fname}', which the library does not define`,
        );
      if (CALL_OPS.has(node.op)) return idx; // output:k of a call is the k-th output
      const k = fn.outputArgs.findIndex((a) => a.name === arg);
      if (k < 0)
        throw new ConversionError(
          `input '${node.name}:${arg}:${idx}' in ${where} names an output function '${fname}' does not have`,
        );
      return k + idx;
    }
    const def = OP_DEFS[node.op];
    if (!def) throw unsupportedOp(node.op, node.name, where);
    let base = 0;
    for (const out of def.outputs) {
      if (out.name === arg) return base + idx;
      base += this.argWidth(node, out);
    }
    throw new ConversionError(
      `input '${node.name}:${arg}:${idx}' in ${where} names an output ${node.op} does not have`,
    );
  }

  private argWidth(node: NodeDef, out: { numberAttr?: string; typeListAttr?: string }): number {
    const def = OP_DEFS[node.op];
    if (out.numberAttr) {
      const a = node.attr[out.numberAttr];
      if (a?.kind === "i") return Number(a.i);
      const d = def?.defaults[out.numberAttr];
      if (d && "i" in d) return Number(d.i);
      throw new ConversionError(`node '${node.name}' (${node.op}) lacks attribute ${out.numberAttr}`);
    }
    if (out.typeListAttr) {
      const a = node.attr[out.typeListAttr];
      if (a?.kind === "list") return a.list.type.length;
      throw new ConversionError(`node '${node.name}' (${node.op}) lacks attribute ${out.typeListAttr}`);
    }
    return 1;
  }

  private resolve(scope: Scope, input: string): Ref {
    const parts = input.split(":");
    let nodeName = parts[0]!;
    let index = 0;
    if (scope.args) {
      if (parts.length === 1) {
        const arg = scope.args.get(input);
        if (arg) return arg;
      }
      const node = scope.body.get(nodeName);
      if (!node)
        throw new ConversionError(`input '${input}' in ${scope.where} names no node or argument (a dangling input)`);
      index =
        parts.length === 3
          ? this.flatIndex(node, parts[1]!, Number(parts[2]), scope.where)
          : parts.length === 2
            ? Number(parts[1])
            : 0;
    } else {
      index = parts.length >= 2 ? Number(parts[parts.length - 1]) : 0;
      nodeName = parts[0]!;
      const cut = scope.cut?.get(`${nodeName}:${index}`);
      if (cut) return cut;
    }
    if (!Number.isInteger(index) || index < 0)
      throw new ConversionError(`input '${input}' in ${scope.where} has a bad output index`);
    return this.node(scope, nodeName)(index);
  }

  /** Checks what a node's control inputs lead to: a variable write there changes the signature's result. */
  private checkControl(scope: Scope, node: NodeDef, seen = new Set<string>()): void {
    for (const i of node.input) {
      if (!i.startsWith("^")) continue;
      const name = i.slice(1);
      if (seen.has(name) || seen.size > 10_000) continue;
      seen.add(name);
      const dep = scope.body.get(name);
      if (!dep)
        throw new ConversionError(
          `control input '${i}' of '${node.name}' in ${scope.where} names no node (a dangling input)`,
        );
      if (WRITE_OP.test(dep.op))
        throw new UnsupportedModelError(
          `the signature writes a variable: ${dep.op} (node '${dep.name}' in ${scope.where}) runs before '${node.name}'`,
          dep.op,
          dep.name,
        );
      if (dep.op === "NoOp" || PASS_OPS.has(dep.op)) this.checkControl(scope, dep, seen);
      if (CALL_OPS.has(dep.op)) this.checkFunctionWrites(this.calledFunction(dep, scope), new Set());
    }
  }

  private checkFunctionWrites(fname: string, seen: Set<string>): void {
    if (seen.has(fname)) return;
    seen.add(fname);
    const fn = this.functions.get(fname);
    if (!fn) return;
    for (const n of fn.nodes) {
      if (WRITE_OP.test(n.op))
        throw new UnsupportedModelError(
          `the signature writes a variable: ${n.op} (node '${n.name}' in function ${fname})`,
          n.op,
          n.name,
        );
      if (CALL_OPS.has(n.op) && n.attr.f?.kind === "func") this.checkFunctionWrites(n.attr.f.func.name, seen);
    }
  }

  private calledFunction(node: NodeDef, scope: Scope): string {
    const f = node.attr.f;
    if (f?.kind !== "func")
      throw new ConversionError(`${node.op} node '${node.name}' in ${scope.where} has no function attribute`);
    return f.func.name;
  }

  // ---- nodes -----------------------------------------------------------------------------------

  private node(scope: Scope, name: string): Outputs {
    const memo = scope.memo.get(name);
    if (memo) return memo;
    const node = scope.body.get(name);
    if (!node) throw new ConversionError(`input '${name}' in ${scope.where} names no node (a dangling input)`);
    if (scope.inProgress.has(name))
      throw new ConversionError(
        `node '${name}' in ${scope.where} depends on itself through calls or variables (a cycle)`,
      );
    scope.inProgress.add(name);
    try {
      const outputs = this.convertNode(scope, node);
      scope.memo.set(name, outputs);
      return outputs;
    } finally {
      scope.inProgress.delete(name);
    }
  }

  private convertNode(scope: Scope, node: NodeDef): Outputs {
    const op = node.op;
    const where = `${scope.where}`;
    this.checkControl(scope, node);
    if (WRITE_OP.test(op))
      throw new UnsupportedModelError(
        `the signature writes a variable: ${op} (node '${node.name}' in ${where})`,
        op,
        node.name,
      );
    if (VARIABLE_OPS.has(op)) {
      if (scope.args)
        throw new UnsupportedModelError(
          `function ${scope.where} creates variable '${node.name}' itself`,
          op,
          node.name,
        );
      const v = this.variable(node);
      return (k) => {
        if (k !== 0) throw new ConversionError(`input '${node.name}:${k}' in ${where}: a variable has one output`);
        return { kind: "var", v };
      };
    }
    if (op === "Placeholder" && !scope.args) {
      throw new UnsupportedModelError(
        `the signature's outputs depend on placeholder '${node.name}', which is not one of its inputs`,
        op,
        node.name,
      );
    }
    const fname = CALL_OPS.has(op) ? this.calledFunction(node, scope) : this.functions.has(op) ? op : null;
    if (fname) return this.inline(scope, node, fname);
    const dataInputs = node.input.filter((i) => !i.startsWith("^"));
    if (PASS_OPS.has(op) || READ_OPS.has(op)) {
      const src = this.resolve(scope, dataInputs[0] ?? "");
      if (src.kind === "var") {
        const read = this.readVar(scope, src.v);
        if (READ_OPS.has(op)) return () => read;
        return () => src; // TF1 `w/read` passes the variable on; its consumer reads it
      }
      // A frozen resource reaching ReadVariableOp is already its value, and an Identity of a tensor is
      // that tensor: both vanish instead of costing an executor step each (inlining leaves many).
      if (dataInputs.length !== 1)
        throw new ConversionError(`${op} node '${node.name}' in ${where} has ${dataInputs.length} inputs`);
      return () => src;
    }
    if (!isSupported(op)) throw unsupportedOp(op, node.name, where);
    if (op === "NoOp") throw new ConversionError(`node '${node.name}' (NoOp) in ${where} is used as a data input`);
    const outName = `${scope.prefix}${node.name}`;
    const outputs: Outputs = (k) => ({ kind: "tensor", name: outName, index: k });
    // Set before resolving inputs, so TF1 loops (Merge <- NextIteration) close on themselves.
    scope.memo.set(node.name, outputs);
    const inputs: string[] = [];
    const args: Ref[] = dataInputs.map((i) => this.resolve(scope, i));
    let emitOp = op;
    const attr: NodeJson["attr"] = {};
    let funcMap = (n: string) => n;
    if (CONTROL_FLOW_OPS.has(op)) {
      const first = op === "If" || op === "StatelessIf" ? 1 : 0;
      const frozen = new Map<number, number>();
      args.forEach((a, k) => {
        if (a.kind === "var" && k >= first) frozen.set(k - first, a.v.dtype);
      });
      funcMap = (n) => this.libraryFunction(n, frozen, `${op} node '${node.name}' in ${where}`);
      const listAttr = first === 1 ? "Tin" : "T";
      const types = node.attr[listAttr];
      if (frozen.size > 0 && types?.kind === "list") {
        const t = [...types.list.type];
        for (const [k, dtype] of frozen) t[k] = dtype;
        attr[listAttr] = { list: { type: t.map(dtypeName) } };
      }
      if (first === 0 && frozen.size > 0) {
        // A While's outputs are its loop variables: frozen ones are now values.
        const outT = node.attr.T;
        if (outT?.kind === "list")
          attr.T = { list: { type: outT.list.type.map((d, k) => dtypeName(frozen.get(k) ?? d)) } };
      }
      if (first === 1 && frozen.size > 0) {
        const tout = node.attr.Tout;
        if (tout?.kind === "list" && tout.list.type.includes(20))
          throw new UnsupportedModelError(`${op} node '${node.name}' in ${where} returns a resource`, op, node.name);
      }
    }
    for (const a of args) {
      if (a.kind === "var") {
        if (op === "ResourceGather") continue;
        inputs.push(tensorName(this.readVar(scope, a.v)));
      } else inputs.push(tensorName(a));
    }
    if (op === "ResourceGather") {
      // GatherV2(params = the frozen variable, indices, axis = 0).
      const res = args[0];
      const params = res?.kind === "var" ? this.readVar(scope, res.v) : res;
      if (!params || params.kind !== "tensor")
        throw new ConversionError(`ResourceGather node '${node.name}' in ${where} has no resource input`);
      const axisName = `${outName}/axis`;
      this.addWeight(axisName, [], { dtype: "int32", values: Int32Array.from([0]) });
      this.push(scope.out, {
        name: axisName,
        op: "Const",
        input: [],
        attr: { dtype: { type: "DT_INT32" }, value: { tensor: { dtype: "DT_INT32", tensorShape: { dim: [] } } } },
      });
      inputs.splice(
        0,
        inputs.length,
        tensorName(params),
        ...args.slice(1).map((a) => tensorName(a as { name: string; index: number })),
        axisName,
      );
      emitOp = "GatherV2";
      const bd = node.attr.batch_dims;
      attr.batch_dims = bd?.kind === "i" ? { i: String(bd.i) } : { i: "0" };
      attr.Tparams = { type: dtypeName(node.attr.dtype?.kind === "type" ? node.attr.dtype.type : 1) };
    }
    if (op === "Const") {
      const v = node.attr.value;
      if (v?.kind !== "tensor") throw new ConversionError(`Const node '${node.name}' in ${where} has no value`);
      let values: TensorValues;
      try {
        values = tensorValues(v.tensor, `constant '${node.name}' in ${where}`);
      } catch (err) {
        if (err instanceof GraphDecodeError) throw new UnsupportedModelError(err.message, op, node.name);
        throw err;
      }
      this.addWeight(outName, v.tensor.shape, values);
      this.push(scope.out, {
        name: outName,
        op: "Const",
        input: [],
        attr: {
          dtype: { type: TFJS_TO_TF[values.dtype]! },
          value: { tensor: { dtype: TFJS_TO_TF[values.dtype], tensorShape: shapeJson(v.tensor.shape) } },
        },
      });
      return outputs;
    }
    for (const [k, v] of Object.entries(node.attr)) {
      if (k.startsWith("_") || k in attr) continue;
      if (emitOp === "GatherV2" && (k === "dtype" || k === "validate_indices")) continue;
      const j = attrJson(v, funcMap);
      if (j) attr[k] = j;
    }
    const defaults = OP_DEFS[emitOp]?.defaults ?? {};
    for (const [k, v] of Object.entries(defaults)) if (!(k in attr)) attr[k] = v;
    this.push(scope.out, { name: outName, op: emitOp, input: inputs, attr });
    return outputs;
  }

  /** Inlines a function call: its outputs are whatever the body's returns resolve to. */
  private inline(scope: Scope, node: NodeDef, fname: string): Outputs {
    const fn = this.functions.get(fname);
    if (!fn)
      throw new ConversionError(
        `node '${node.name}' in ${scope.where} calls function '${fname}', which the library does not define`,
      );
    if (scope.stack.includes(fname))
      throw new ConversionError(`function '${fname}' calls itself (cycle: ${[...scope.stack, fname].join(" -> ")})`);
    if (scope.stack.length >= CONVERT_LIMITS.maxInlineDepth)
      throw new ConversionError(
        `function calls nest deeper than ${CONVERT_LIMITS.maxInlineDepth} levels at '${node.name}'`,
      );
    this.inlined++;
    const data = node.input.filter((i) => !i.startsWith("^"));
    if (data.length !== fn.inputArgs.length)
      throw new ConversionError(
        `node '${node.name}' in ${scope.where} passes ${data.length} inputs to '${fname}', which takes ${fn.inputArgs.length}`,
      );
    const args = new Map<string, Ref>();
    fn.inputArgs.forEach((a, k) => args.set(a.name, this.resolve(scope, data[k]!)));
    for (const [, n] of Object.entries(fn.controlRet)) {
      const c = fn.nodes.find((x) => x.name === n);
      if (c && WRITE_OP.test(c.op))
        throw new UnsupportedModelError(
          `the signature writes a variable: ${c.op} (node '${c.name}' in function ${fname})`,
          c.op,
          c.name,
        );
    }
    const inner: Scope = {
      prefix: `${scope.prefix}${node.name}/`,
      where: `function ${fname}`,
      body: bodyMap(fn),
      args,
      cut: null,
      memo: new Map(),
      inProgress: new Set(),
      out: scope.out,
      stack: [...scope.stack, fname],
    };
    const cache = new Map<number, Ref>();
    return (k) => {
      const cached = cache.get(k);
      if (cached) return cached;
      const arg = fn.outputArgs[k];
      if (!arg)
        throw new ConversionError(
          `an input reads output ${k} of '${node.name}', but '${fname}' has ${fn.outputArgs.length} outputs`,
        );
      const ret = fn.ret[arg.name];
      if (ret === undefined)
        throw new ConversionError(`function '${fname}' does not say what it returns for '${arg.name}'`);
      const r = this.resolve(inner, ret);
      cache.set(k, r);
      return r;
    };
  }

  /** Converts a While/If function into the TF.js library, with the arguments in `frozen` turned from resources into values. */
  private libraryFunction(fname: string, frozen: Map<number, number>, usedBy: string): string {
    const fn = this.functions.get(fname);
    if (!fn) throw new ConversionError(`${usedBy} uses function '${fname}', which the library does not define`);
    const name = frozen.size === 0 ? fname : `${fname}__frozen_${[...frozen].map(([k, d]) => `${k}_${d}`).join("_")}`;
    if (this.library.has(name)) {
      if (this.library.get(name) === null)
        throw new ConversionError(`function '${fname}' uses itself (a cyclic call through ${usedBy})`);
      return name;
    }
    this.library.set(name, null);
    const out: Emitter = { nodes: [], names: new Set(), frozen: new Map() };
    const args = new Map<string, Ref>();
    const inputArg: FunctionJson["signature"]["inputArg"] = [];
    fn.inputArgs.forEach((a, k) => {
      let dtype = frozen.get(k) ?? a.type;
      if (dtype === 0)
        throw new UnsupportedModelError(
          `function '${fname}' is polymorphic (argument '${a.name}' has type attribute ${a.typeAttr || a.typeListAttr})`,
        );
      if (dtype === 20 && !frozen.has(k))
        throw new UnsupportedModelError(`function '${fname}' takes resource '${a.name}' that is not a variable`);
      const tf = tfjsDtype(dtype);
      if (tf === null && dtype !== 21)
        throw new UnsupportedModelError(
          `function '${fname}' takes '${a.name}' of dtype ${dtypeName(dtype)}, which TF.js cannot hold`,
        );
      if (tf && dtype !== 21) dtype = dtype > 100 ? dtype - 100 : dtype;
      inputArg.push({ name: a.name, type: dtypeName(dtype) });
      args.set(a.name, { kind: "tensor", name: a.name, index: 0, dtype });
    });
    const scope: Scope = {
      prefix: `${name}/`,
      where: `function ${fname}`,
      body: bodyMap(fn),
      args,
      cut: null,
      memo: new Map(),
      inProgress: new Set(),
      out,
      stack: [fname],
    };
    for (const n of Object.values(fn.controlRet)) {
      const c = fn.nodes.find((x) => x.name === n);
      if (c && WRITE_OP.test(c.op))
        throw new UnsupportedModelError(
          `the signature writes a variable: ${c.op} (node '${c.name}' in function ${fname})`,
          c.op,
          c.name,
        );
    }
    const ret: Record<string, string> = {};
    const outputArg: FunctionJson["signature"]["outputArg"] = [];
    fn.outputArgs.forEach((a, k) => {
      const src = fn.ret[a.name];
      if (src === undefined)
        throw new ConversionError(`function '${fname}' does not say what it returns for '${a.name}'`);
      const raw = this.resolve(scope, src);
      const r = raw.kind === "var" ? this.readVar(scope, raw.v) : raw;
      // One Identity per output: TF.js keys function outputs by node, so two outputs of one node would collide.
      const idName = `${name}/__ret_${k}`;
      this.push(out, { name: idName, op: "Identity", input: [tensorName(r)], attr: {} });
      ret[a.name] = `${idName}:0`;
      const dtype = a.type === 20 ? (frozen.get(k) ?? r.dtype ?? 20) : a.type;
      outputArg.push({ name: a.name, type: dtypeName(dtype) });
    });
    this.library.set(name, { signature: { name, inputArg, outputArg }, nodeDef: out.nodes, ret });
    return name;
  }

  // ---- the whole signature ---------------------------------------------------------------------

  convert(sig: SignatureDef): ConvertedModel {
    if (sig.outputs.length === 0) throw new UnsupportedModelError(`signature '${sig.key}' has no outputs to run`);
    const out: Emitter = { nodes: [], names: new Set(), frozen: new Map() };
    const cut = new Map<string, Ref>();
    const inputs: IoSpec[] = [];
    const taken = new Set<string>();
    const unique = (base: string) => {
      let n = base.replace(/[^A-Za-z0-9_./-]/g, "_") || "input";
      while (taken.has(n) || (this.mainNodes.has(n) && !sig.inputs.some((i) => i.name.split(":")[0] === n)))
        n = `${n}_`;
      taken.add(n);
      return n;
    };
    for (const i of sig.inputs) {
      if (i.composite)
        throw new UnsupportedModelError(`signature input '${i.key}' is a composite (sparse or ragged) tensor`);
      const tf = tfjsDtype(i.dtype);
      if (tf === null)
        throw new UnsupportedModelError(
          `signature input '${i.key}' has dtype ${dtypeName(i.dtype)}, which TF.js cannot feed`,
        );
      const [node, idx] = i.name.split(":");
      if (!node || !this.mainNodes.has(node))
        throw new ConversionError(`signature input '${i.key}' names tensor '${i.name}', which is not in the graph`);
      const name = unique(i.key);
      const attr: NodeJson["attr"] = { dtype: { type: TFJS_TO_TF[tf]! } };
      if (i.shape) attr.shape = { shape: shapeJson(i.shape) };
      this.push(out, { name, op: "Placeholder", input: [], attr });
      cut.set(`${node}:${Number(idx ?? 0)}`, { kind: "tensor", name, index: 0, dtype: i.dtype });
      inputs.push({ key: i.key, name, dtype: tf, tfDtype: dtypeName(i.dtype), shape: i.shape });
    }
    const scope: Scope = {
      prefix: "",
      where: "the graph",
      body: this.mainNodes,
      args: null,
      cut,
      memo: new Map(),
      inProgress: new Set(),
      out,
      stack: [],
    };
    const outputs: IoSpec[] = [];
    const resolved = sig.outputs.map((o) => {
      if (o.composite)
        throw new UnsupportedModelError(`signature output '${o.key}' is a composite (sparse or ragged) tensor`);
      const [node, idx] = o.name.split(":");
      if (!node || !this.mainNodes.has(node))
        throw new ConversionError(`signature output '${o.key}' names tensor '${o.name}', which is not in the graph`);
      let r = this.resolve(scope, `${node}:${Number(idx ?? 0)}`);
      if (r.kind === "var") r = this.readVar(scope, r.v);
      return { o, r };
    });
    for (const { o, r } of resolved) {
      const name = unique(`${o.key}`);
      this.push(out, { name, op: "Identity", input: [tensorName(r)], attr: {} });
      const tf = tfjsDtype(o.dtype) ?? "float32";
      outputs.push({ key: o.key, name, dtype: tf, tfDtype: dtypeName(o.dtype), shape: o.shape });
    }
    const total = this.weights.reduce((n, w) => n + w.data.byteLength, 0);
    const data = new Uint8Array(total);
    let off = 0;
    for (const w of this.weights) {
      data.set(w.data, off);
      off += w.data.byteLength;
    }
    const library = [...this.library.values()].filter((f): f is FunctionJson => f !== null);
    const parameters = this.weights.reduce((n, w) => n + (w.spec.dtype === "string" ? 0 : elementsOf(w.spec.shape)), 0);
    return {
      tags: this.mg.tags,
      signatureKey: sig.key,
      modelTopology: { node: out.nodes, library: { function: library }, versions: { producer: 1 } },
      weightSpecs: this.weights.map((w) => w.spec),
      weightData: data.buffer,
      signature: {
        inputs: Object.fromEntries(
          inputs.map((i) => [
            i.key,
            { name: `${i.name}:0`, dtype: TFJS_TO_TF[i.dtype]!, tensorShape: shapeJson(i.shape) },
          ]),
        ),
        outputs: Object.fromEntries(outputs.map((o) => [o.key, { name: `${o.name}:0`, dtype: TFJS_TO_TF[o.dtype]! }])),
      },
      inputs,
      outputs,
      stats: {
        nodes: this.emitted,
        functions: library.length,
        inlinedCalls: this.inlined,
        frozenVariables: this.varInfo.size,
        parameters,
        ops: this.opCounts,
      },
    };
  }
}

function bodyMap(fn: FunctionDef): Map<string, NodeDef> {
  const m = new Map<string, NodeDef>();
  for (const n of fn.nodes) {
    if (m.has(n.name)) throw new ConversionError(`function '${fn.name}' has two nodes named '${n.name}'`);
    m.set(n.name, n);
  }
  return m;
}

export type ConvertOptions = { tags?: string[]; signature?: string };

/** Converts one signature of a decoded SavedModel. */
export function convertMetaGraph(
  mg: DecodedMetaGraph,
  variables: VariableSource | null,
  signatureKey?: string,
): ConvertedModel {
  const sig = signatureKey ? mg.signatures.find((s) => s.key === signatureKey) : defaultSignature(mg);
  if (!sig)
    throw new ConversionError(
      signatureKey
        ? `no signature '${signatureKey}' (found ${mg.signatures.map((s) => s.key).join(", ") || "none"})`
        : "the meta graph has no signatures",
    );
  return new Converter(mg, variables).convert(sig);
}

/** Decodes saved_model.pb and converts one signature. */
export function convertSavedModel(
  pb: Buffer,
  variables: VariableSource | null,
  opts: ConvertOptions = {},
): ConvertedModel {
  let mgs: DecodedMetaGraph[];
  try {
    mgs = decodeSavedModel(pb);
  } catch (err) {
    if (err instanceof GraphDecodeError) throw new ConversionError(err.message);
    throw err;
  }
  return convertMetaGraph(chooseMetaGraph(mgs, opts.tags), variables, opts.signature);
}
