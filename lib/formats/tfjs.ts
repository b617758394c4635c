// TF.js models (graph and layers): model.json checked against a schema, manifest paths that must be
// plain file names, and shard sizes that must equal the bytes the manifest's weights need
// (quantization included). Inputs and outputs come from the signature, or from Placeholder nodes.
import { z } from "zod";
import { AppError } from "../errors.ts";

const dtypeSchema = z.enum(["float32", "int32", "bool", "complex64", "string", "float16", "uint8", "int8", "int16", "uint16", "int64"]);

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
  if (/^[a-z][a-z0-9+.-]*:/i.test(p) || p.startsWith("//")) throw bad("is a URL: only file names next to model.json are allowed");
  if (p.startsWith("/") || p.includes("\\") || p.includes("\0")) throw bad("is absolute or has a backslash");
  if (/%2e|%2f|%5c/i.test(p)) throw bad("has percent-encoded dots or slashes");
  if (p.split("/").some((s) => s === ".." || s === "." || s === "")) throw bad('has a ".." or "." segment');
  if (p.includes("/")) throw bad("is not a plain file name");
  return p;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, float16: 2, uint8: 1, int8: 1, int16: 2, uint16: 2, int64: 8 };

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
  const parsed = modelJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new AppError("unprocessable_entity", `model.json: ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  const m = parsed.data;
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
      if (!(p in shardSizes)) throw new AppError("unprocessable_entity", `weightsManifest group ${gi}: shard "${p}" is missing`);
      have += shardSizes[p]!;
      shards.push(p);
    }
    if (!variable && have !== need) {
      throw new AppError("unprocessable_entity", `weightsManifest group ${gi}: shards hold ${have} bytes but the weights need ${need} (dtype x shape, quantization included)`);
    }
    if (variable && have < need) throw new AppError("unprocessable_entity", `weightsManifest group ${gi}: shards hold ${have} bytes, fewer than the ${need} the fixed-size weights need`);
  });

  const layers = m.format === "layers-model" || (m.format === undefined && "class_name" in m.modelTopology);
  let inputs: TensorSpec[] = [];
  let outputs: TensorSpec[] = [];
  const sig = m.signature as { inputs?: Record<string, { name?: string; dtype?: string; tensorShape?: unknown }>; outputs?: Record<string, { name?: string; dtype?: string; tensorShape?: unknown }> } | undefined;
  if (sig?.inputs || sig?.outputs) {
    inputs = Object.entries(sig.inputs ?? {}).map(([k, v]) => ({ name: k, dtype: dtypeName(v.dtype), shape: shapeOf(v.tensorShape) }));
    outputs = Object.entries(sig.outputs ?? {}).map(([k, v]) => ({ name: k, dtype: dtypeName(v.dtype), shape: shapeOf(v.tensorShape) }));
  } else if (!layers) {
    const nodes = (m.modelTopology as { node?: Array<{ name: string; op: string; attr?: Record<string, { type?: string; shape?: unknown }> }> }).node ?? [];
    inputs = nodes
      .filter((n) => n.op === "Placeholder")
      .map((n) => ({ name: n.name, dtype: dtypeName(n.attr?.dtype?.type), shape: shapeOf(n.attr?.shape?.shape) }));
  }
  return { format: layers ? "tfjs_layers" : "tfjs_graph", shards, weights, parameterCount, inputs, outputs };
}
