// The model-format vocabulary and the one rule that tells a model's format from its files. The
// enum itself is Prisma's (prisma/schema.prisma `enum ModelFormat`); everything else derives from
// it, so a new format is declared once.
import { ModelFormat } from "../db/generated/enums.ts";
import { detectTfjsFormat } from "./tfjs.ts";

export { ModelFormat };

/** Every format, in the schema's order (for zod enums and filters). */
export const MODEL_FORMATS = Object.values(ModelFormat) as [ModelFormat, ...ModelFormat[]];

/** A format a version can be published as: everything but `unknown`. */
export type KnownFormat = Exclude<ModelFormat, "unknown">;

export type TfjsFormat = Extract<ModelFormat, "tfjs_graph" | "tfjs_layers">;

/** Formats the TF.js runtimes execute (TFLite has its own runtimes: lib/validation/runtimes/tflite.ts). */
export type ExecutableFormat = Exclude<KnownFormat, "tflite">;

export function isTfjs(format: string): format is TfjsFormat {
  return format === ModelFormat.tfjs_graph || format === ModelFormat.tfjs_layers;
}

export function isSavedModel(format: string): format is "saved_model" | "tf1_hub" {
  return format === ModelFormat.saved_model || format === ModelFormat.tf1_hub;
}

/** Whether the first bytes of a file are a TFLite flatbuffer (file identifier `TFL3` at offset 4). */
export function isTfliteHead(head: Uint8Array): boolean {
  return head.length >= 8 && head[4] === 0x54 && head[5] === 0x46 && head[6] === 0x4c && head[7] === 0x33;
}

/** What detectFormat looks at: the model's root-relative file paths and, for TF.js, its model.json. */
export type FormatEvidence = {
  paths: Iterable<string>;
  /** The parsed model.json, when there is one (read only when `paths` holds it). */
  modelJson?: () => unknown;
};

export type DetectedFormat =
  { format: "saved_model" | "tf1_hub"; text: boolean } | { format: TfjsFormat } | { format: "unknown" };

/**
 * The format of a model from its files, for an upload, a mirror and validation alike: a
 * `saved_model.pb` (or `.pbtxt`, reported as `text`) at the root is a SavedModel, a TF1 Hub module
 * when `tfhub_module.pb` is beside it; else a root `model.json` is TF.js, graph unless its topology
 * says layers. TFLite is a single file, told by isTfliteHead.
 */
export function detectFormat(evidence: FormatEvidence): DetectedFormat {
  const paths = evidence.paths instanceof Set ? (evidence.paths as Set<string>) : new Set(evidence.paths);
  const binary = paths.has("saved_model.pb");
  if (binary || paths.has("saved_model.pbtxt")) {
    return { format: paths.has("tfhub_module.pb") ? "tf1_hub" : "saved_model", text: !binary };
  }
  if (paths.has("model.json")) {
    let json: unknown = null;
    try {
      json = evidence.modelJson?.() ?? null;
    } catch {
      json = null;
    }
    return { format: detectTfjsFormat(json) ?? "tfjs_graph" };
  }
  return { format: "unknown" };
}
