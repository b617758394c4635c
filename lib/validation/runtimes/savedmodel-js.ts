// The `savedmodel-js` runtime: runs a SavedModel or TF1 Hub module with nothing but TF.js. It reads
// saved_model.pb and the checkpoint from the model folder, converts the chosen signature to a TF.js
// graph model in memory (lib/formats/savedmodel/convert.ts) and hands the artifacts to the caller,
// which loads them with `tf.loadGraphModel(tf.io.fromMemory(...))`. It runs inside the sandbox
// child (bundled by ../sandbox/bundle.ts, since the child has no TypeScript loader) and in tests.
import fs from "node:fs";
import path from "node:path";
import {
  CONVERTER_NAME,
  CONVERTER_VERSION,
  convertSavedModel,
  type ConvertedModel,
  type VariableSource,
} from "../../formats/savedmodel/convert.ts";
import { openTensorBundle } from "../../formats/tensor-bundle.ts";

export { ConversionError, UnsupportedModelError } from "../../formats/savedmodel/convert.ts";
export const RUNTIME = `${CONVERTER_NAME} ${CONVERTER_VERSION}`;

/** The checkpoint in `<dir>/variables/`, or null when the model has none (e.g. a Hub module without variables). */
export function checkpointOf(dir: string): VariableSource | null {
  const prefix = path.join(dir, "variables", "variables");
  if (!fs.existsSync(`${prefix}.index`)) return null;
  const bundle = openTensorBundle(prefix);
  return {
    has: (key) => bundle.entries.has(key),
    read: (key) => {
      const e = bundle.entries.get(key)!;
      return {
        dtype: e.dtype,
        shape: e.shape,
        sliced: e.sliced,
        bytes: e.sliced ? Buffer.alloc(0) : bundle.bytesOf(key),
      };
    },
  };
}

/** Converts the model in `dir` (its default or the named signature) for TF.js. */
export function convertModelDir(dir: string, opts: { signature?: string; tags?: string[] } = {}): ConvertedModel {
  const pb = fs.readFileSync(path.join(dir, "saved_model.pb"));
  return convertSavedModel(pb, checkpointOf(dir), opts);
}

/** The `tf.io.fromMemory` argument for a converted model. */
export function modelArtifacts(m: ConvertedModel) {
  return {
    modelTopology: m.modelTopology,
    weightSpecs: m.weightSpecs,
    weightData: m.weightData,
    format: "graph-model",
    generatedBy: `TensorFlow SavedModel [${m.tags.join(", ")}]`,
    convertedBy: RUNTIME,
    signature: m.signature,
  };
}
