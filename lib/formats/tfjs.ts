// TF.js models (graph and layers): model.json checked against a schema, manifest paths that must be
// plain file names, and shard sizes that must equal the bytes the manifest's weights need
// (quantization included). Graph or layers is read from the topology, as the TF.js loaders read it.
// A layers topology is checked for what would make loadLayersModel throw or never return. Inputs
// come from the signature, from Placeholder nodes (graph) or from the input layers (layers).
import { z } from "zod";
import { AppError } from "../errors.ts";

const dtypeSchema = z.enum([
  "float32",
  "int32",
  "bool",
  "complex64",
  "string",
  "float16",
  "uint8",
  "int8",
  "int16",
  "uint16",
  "int64",
]);

const weightSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().min(0)),
  dtype: dtypeSchema,
  quantization: z
    .object({ dtype: z.enum(["uint8", "uint16", "float16"]), scale: z.number().optional(), min: z.number().optional() })
    .optional(),
  group: z.string().optional(),
});

export const modelJsonSchema = z.object({
  format: z.enum(["graph-model", "layers-model"]).optional(),
  generatedBy: z.string().optional(),
  convertedBy: z.string().nullable().optional(),
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: z.array(z.object({ paths: z.array(z.string()).min(1), weights: z.array(weightSchema) })),
  signature: z.record(z.string(), z.unknown()).optional(),
  userDefinedMetadata: z.record(z.string(), z.unknown()).optional(),
  modelInitializer: z.record(z.string(), z.unknown()).optional(),
});

export type ModelJson = z.infer<typeof modelJsonSchema>;

/** TF.js manifest paths must be plain relative names: no `..`, no absolute paths, no URLs, no encoded dots. */
export function checkManifestPath(p: string): string {
  const bad = (why: string) => new AppError("unprocessable_entity", `weightsManifest path "${p.slice(0, 120)}" ${why}`);
  if (!p || p.length > 255) throw bad("is empty or too long");
  if (/^[a-z][a-z0-9+.-]*:/i.test(p) || p.startsWith("//"))
    throw bad("is a URL: only file names next to model.json are allowed");
  if (p.startsWith("/") || p.includes("\\") || p.includes("\0")) throw bad("is absolute or has a backslash");
  if (/%2e|%2f|%5c/i.test(p)) throw bad("has percent-encoded dots or slashes");
  if (p.split("/").some((s) => s === ".." || s === "." || s === "")) throw bad('has a ".." or "." segment');
  if (p.includes("/")) throw bad("is not a plain file name");
  return p;
}

const BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  float16: 2,
  uint8: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int64: 8,
};

/** Bytes a weight occupies in its shards (null for strings, whose size is in the data). */
export function weightBytes(w: z.infer<typeof weightSchema>): number | null {
  const elements = w.shape.reduce((a, b) => a * b, 1);
  if (w.dtype === "string") return null;
  const per = w.quantization ? BYTES[w.quantization.dtype]! : BYTES[w.dtype]!;
  return elements * per;
}

export type TensorSpec = { name: string; dtype: string; shape: number[] | null };

export type TfjsInfo = {
  format: "tfjs_graph" | "tfjs_layers";
  shards: string[];
  weights: number;
  parameterCount: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
};

function dtypeName(d: unknown): string {
  return typeof d === "string" ? d.replace(/^DT_/, "").toLowerCase() : "unknown";
}

function shapeOf(ts: unknown): number[] | null {
  const t = ts as { unknownRank?: boolean; dim?: Array<{ size?: string | number }> } | undefined;
  if (!t || t.unknownRank) return null;
  return (t.dim ?? []).map((d) => Number(d.size ?? -1));
}

/** The Keras class names a layers model's topology may have at its root (tfjs-layers registers these). */
const MODEL_CLASSES = new Set(["Sequential", "Model", "Functional"]);

/**
 * Which TF.js loader `modelJson` is for: the topology decides, as it does for the loaders themselves
 * (loadLayersModel deserialises `modelTopology.model_config` when present, else the topology, which
 * then has a Keras `class_name`; loadGraphModel reads a GraphDef's `node`, `library` and `versions`).
 * The optional `format` field only decides for a topology that says neither. Null when nothing says.
 */
export function detectTfjsFormat(modelJson: unknown): "tfjs_graph" | "tfjs_layers" | null {
  const m = (modelJson ?? {}) as { format?: unknown; modelTopology?: unknown };
  const t = m.modelTopology;
  if (t && typeof t === "object" && !Array.isArray(t)) {
    if ((t as Record<string, unknown>).model_config != null || "class_name" in t) return "tfjs_layers";
    if ("node" in t || "library" in t || "versions" in t) return "tfjs_graph";
  }
  if (m.format === "layers-model") return "tfjs_layers";
  if (m.format === "graph-model") return "tfjs_graph";
  return null;
}

const kerasObjectSchema = z.object({ class_name: z.string().min(1), config: z.unknown() });
const functionalLayerSchema = kerasObjectSchema.extend({
  name: z.string().min(1),
  inbound_nodes: z.array(z.unknown()),
});
type KerasObject = z.infer<typeof kerasObjectSchema>;

type LayerConfig = {
  name?: unknown;
  dtype?: unknown;
  batch_input_shape?: unknown;
  batchInputShape?: unknown;
  input_shape?: unknown;
  inputShape?: unknown;
};

const configOf = (o: KerasObject): LayerConfig =>
  o.config && typeof o.config === "object" && !Array.isArray(o.config) ? o.config : {};

/** A Keras shape as Hubkeep records it: unknown dimensions (null) become -1; `input_shape` lacks the batch. */
function kerasShape(s: unknown, withBatch: boolean): number[] | null {
  if (!Array.isArray(s) || !s.every((d) => d === null || (Number.isInteger(d) && d >= 0))) return null;
  return [...(withBatch ? [] : [-1]), ...s.map((d) => (d === null ? -1 : (d as number)))];
}

/** The input a layer declares (as tfjs-layers reads it: batch_input_shape, else input_shape), or null. */
function declaredInput(layer: KerasObject, name: string): TensorSpec | null {
  const c = configOf(layer);
  const batchShape = c.batch_input_shape ?? c.batchInputShape;
  const shape = c.input_shape ?? c.inputShape;
  if (batchShape == null && shape == null) return null;
  return {
    name,
    dtype: typeof c.dtype === "string" ? c.dtype : "float32",
    shape: batchShape != null ? kerasShape(batchShape, true) : kerasShape(shape, false),
  };
}

const quote = (name: string) => JSON.stringify(name.slice(0, 64));

/** A [layer name, node index, tensor index(, kwargs)] reference, or null for anything else. */
function nodeRef(x: unknown): { layer: string; node: number; tensor: number } | null {
  if (
    !Array.isArray(x) ||
    typeof x[0] !== "string" ||
    !Number.isInteger(x[1]) ||
    !Number.isInteger(x[2]) ||
    x[1] < 0 ||
    x[2] < 0
  )
    return null;
  return { layer: x[0], node: x[1], tensor: x[2] };
}

/**
 * Checks the Keras config a layers model is built from (`where` names it in messages) and returns
 * its inputs. Mirrors what tfjs-layers' Sequential.fromConfig and Container.fromConfig need; for a
 * functional model it replays the order in which layer calls become possible, since a call that never
 * does (an input from a missing layer, a cycle) makes fromConfig loop forever. Counting at least the
 * nodes tfjs-layers creates, it never refuses a topology tfjs-layers can build.
 */
function checkKerasModel(config: unknown, where: string, depth: number): TensorSpec[] {
  const bad = (why: string) => new AppError("unprocessable_entity", `model.json: ${where}: ${why}`);
  if (depth > 16) throw bad("models nested more than 16 deep");
  const root = kerasObjectSchema.safeParse(config);
  if (!root.success)
    throw bad(
      `not a Keras model config (an object with a string class_name and a config): ${root.error.issues[0]!.path.join(".") || "(root)"}: ${root.error.issues[0]!.message}`,
    );
  const { class_name: cls, config: body } = root.data;
  if (!MODEL_CLASSES.has(cls))
    throw bad(`class_name is ${quote(cls)}: a layers model is a Sequential, Model or Functional`);

  if (cls === "Sequential") {
    // Keras 2.2.2 and older wrote the layer list as the config; later versions write {name, layers}.
    const list = Array.isArray(body)
      ? body
      : body && typeof body === "object"
        ? (body as { layers?: unknown }).layers
        : undefined;
    if (!Array.isArray(list)) throw bad("a Sequential config must be a list of layers or an object with a layers list");
    if (list.length === 0) throw bad("the Sequential model has no layers");
    const layers = list.map((l, k) => {
      const p = kerasObjectSchema.safeParse(l);
      if (!p.success) throw bad(`layer ${k} is not a Keras layer config (class_name and config)`);
      return p.data;
    });
    if (Array.isArray(body) && layers[0]!.class_name === "Merge")
      throw bad("Keras 1 Sequential models with a Merge layer are a legacy format TF.js cannot load");
    for (const [k, l] of layers.entries())
      if (k > 0 && MODEL_CLASSES.has(l.class_name)) checkKerasModel(l, `${where} layer ${k}`, depth + 1);
    const first = layers[0]!;
    if (MODEL_CLASSES.has(first.class_name)) return checkKerasModel(first, `${where} layer 0`, depth + 1);
    const firstName = typeof configOf(first).name === "string" ? (configOf(first).name as string) : "layer";
    const input = declaredInput(first, first.class_name === "InputLayer" ? firstName : `${firstName}_input`);
    if (!input)
      throw bad(
        `the first layer (${quote(firstName)}, a ${quote(first.class_name)}) declares no input shape (batch_input_shape): TF.js cannot build the model`,
      );
    return [input];
  }

  if (!body || typeof body !== "object" || Array.isArray(body))
    throw bad(`a ${cls} config must be an object with layers, input_layers and output_layers`);
  const b = body as { layers?: unknown; input_layers?: unknown; output_layers?: unknown };
  if (!Array.isArray(b.layers) || b.layers.length === 0) throw bad(`the ${cls} config has no layers list`);
  const byName = new Map<string, z.infer<typeof functionalLayerSchema>>();
  b.layers.forEach((l, k) => {
    const p = functionalLayerSchema.safeParse(l);
    if (!p.success)
      throw bad(
        `layer ${k}: ${p.error.issues[0]!.path.join(".") || "(root)"}: ${p.error.issues[0]!.message} (a layer needs name, class_name, config and inbound_nodes)`,
      );
    if (byName.has(p.data.name)) throw bad(`two layers are named ${quote(p.data.name)}`);
    byName.set(p.data.name, p.data);
  });
  // Calls still to make, each a list of input references; a layer's node count grows with each call.
  // InputLayers and nested models start with the one node they create when deserialised.
  const nodes = new Map<string, number>();
  let pending: Array<{ layer: string; inputs: Array<{ layer: string; node: number; tensor: number }> }> = [];
  for (const l of byName.values()) {
    nodes.set(l.name, l.class_name === "InputLayer" || MODEL_CLASSES.has(l.class_name) ? 1 : 0);
    if (MODEL_CLASSES.has(l.class_name)) checkKerasModel(l, `${where} layer ${quote(l.name)}`, depth + 1);
    l.inbound_nodes.forEach((n, k) => {
      if (!Array.isArray(n))
        throw bad(`layer ${quote(l.name)} inbound node ${k} is not a list of [layer, node, tensor] references`);
      const inputs = n.map((x) => {
        const r = nodeRef(x);
        if (!r)
          throw bad(
            `layer ${quote(l.name)} inbound node ${k} has an input that is not a [layer, node, tensor] reference`,
          );
        if (!byName.has(r.layer))
          throw bad(`layer ${quote(l.name)} takes its input from ${quote(r.layer)}, which is not a layer of the model`);
        return r;
      });
      if (inputs.length > 0) pending.push({ layer: l.name, inputs });
    });
  }
  for (let progress = true; progress && pending.length > 0;) {
    const before = pending.length;
    pending = pending.filter((call) => {
      if (!call.inputs.every((r) => nodes.get(r.layer)! > r.node)) return true;
      nodes.set(call.layer, nodes.get(call.layer)! + 1);
      return false;
    });
    progress = pending.length < before;
  }
  if (pending.length > 0) {
    const call = pending[0]!;
    const r = call.inputs.find((x) => nodes.get(x.layer)! <= x.node)!;
    throw bad(
      `layer ${quote(call.layer)} can never be called: its input ${quote(r.layer)} node ${r.node} is never created (a cycle, or a node index past the end)`,
    );
  }
  const refs = (key: "input_layers" | "output_layers") => {
    const list = b[key];
    if (!Array.isArray(list) || list.length === 0) throw bad(`the ${cls} config has no ${key} list`);
    return list.map((x) => {
      const r = nodeRef(x);
      if (!r) throw bad(`${key} has an entry that is not a [layer, node, tensor] reference`);
      if (!byName.has(r.layer)) throw bad(`${key} names ${quote(r.layer)}, which is not a layer of the model`);
      if (nodes.get(r.layer)! <= r.node)
        throw bad(`${key} names node ${r.node} of ${quote(r.layer)}, which has ${nodes.get(r.layer)} node(s)`);
      return r;
    });
  };
  refs("output_layers");
  return refs("input_layers").map((r) => {
    const l = byName.get(r.layer)!;
    return (
      (l.class_name === "InputLayer" ? declaredInput(l, l.name) : null) ?? {
        name: l.name,
        dtype: "float32",
        shape: null,
      }
    );
  });
}

/**
 * Parses and checks model.json. `shardSizes` maps each shard file name to its byte size (missing
 * shards are reported). Throws 422 naming the first problem.
 */
export function inspectTfjsModel(jsonText: string, shardSizes: Record<string, number>): TfjsInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(jsonText);
  } catch (err) {
    throw new AppError("unprocessable_entity", `model.json is not valid JSON: ${(err as Error).message}`);
  }
  if (raw && typeof raw === "object" && !Array.isArray(raw) && "modelTopology" in raw && !("weightsManifest" in raw)) {
    throw new AppError("unprocessable_entity", "model.json has no weightsManifest: the model's weights are missing");
  }
  const parsed = modelJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new AppError("unprocessable_entity", `model.json: ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  const m = parsed.data;
  const format = detectTfjsFormat(m);
  if (!format)
    throw new AppError(
      "unprocessable_entity",
      'model.json: modelTopology is neither a layers model (class_name, or model_config as Keras exports write it) nor a graph (node), and there is no format field ("layers-model" or "graph-model")',
    );
  const shards: string[] = [];
  let weights = 0;
  let parameterCount = 0;
  m.weightsManifest.forEach((group, gi) => {
    let need = 0;
    let variable = false;
    for (const w of group.weights) {
      const b = weightBytes(w);
      if (b === null) variable = true;
      else need += b;
      weights++;
      parameterCount += w.shape.reduce((a, c) => a * c, 1);
    }
    let have = 0;
    for (const p of group.paths) {
      checkManifestPath(p);
      if (!(p in shardSizes))
        throw new AppError("unprocessable_entity", `weightsManifest group ${gi}: shard "${p}" is missing`);
      have += shardSizes[p]!;
      shards.push(p);
    }
    if (!variable && have !== need) {
      throw new AppError(
        "unprocessable_entity",
        `weightsManifest group ${gi}: shards hold ${have} bytes but the weights need ${need} (dtype x shape, quantization included)`,
      );
    }
    if (variable && have < need)
      throw new AppError(
        "unprocessable_entity",
        `weightsManifest group ${gi}: shards hold ${have} bytes, fewer than the ${need} the fixed-size weights need`,
      );
  });

  const topology = m.modelTopology;
  const layersInputs =
    format === "tfjs_layers"
      ? checkKerasModel(
          topology.model_config != null ? topology.model_config : topology,
          topology.model_config != null ? "modelTopology.model_config" : "modelTopology",
          0,
        )
      : [];
  let inputs: TensorSpec[] = [];
  let outputs: TensorSpec[] = [];
  const sig = m.signature as
    | {
        inputs?: Record<string, { name?: string; dtype?: string; tensorShape?: unknown }>;
        outputs?: Record<string, { name?: string; dtype?: string; tensorShape?: unknown }>;
      }
    | undefined;
  if (sig?.inputs || sig?.outputs) {
    inputs = Object.entries(sig.inputs ?? {}).map(([k, v]) => ({
      name: k,
      dtype: dtypeName(v.dtype),
      shape: shapeOf(v.tensorShape),
    }));
    outputs = Object.entries(sig.outputs ?? {}).map(([k, v]) => ({
      name: k,
      dtype: dtypeName(v.dtype),
      shape: shapeOf(v.tensorShape),
    }));
  } else if (format === "tfjs_layers") {
    // Output shapes need shape inference: the sandbox run records them.
    inputs = layersInputs;
  } else {
    const nodes =
      (
        topology as {
          node?: Array<{ name: string; op: string; attr?: Record<string, { type?: string; shape?: unknown }> }>;
        }
      ).node ?? [];
    inputs = nodes
      .filter((n) => n.op === "Placeholder")
      .map((n) => ({ name: n.name, dtype: dtypeName(n.attr?.dtype?.type), shape: shapeOf(n.attr?.shape?.shape) }));
  }
  return { format, shards, weights, parameterCount, inputs, outputs };
}
