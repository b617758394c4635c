// Static validation: what a model folder (or a TFLite file) is and whether its bytes are sound,
// without running it. Detects the format (lib/formats/format.ts), parses and checksums it, and scans
// SavedModel graphs for dangerous ops. Execution in the sandbox (level `executed`) comes on top of
// this; until a runtime ran a model, its level is `static`.
import fs from "node:fs";
import path from "node:path";
import { AppError } from "../errors.ts";
import type { ValidationStatus } from "../db/generated/enums.ts";
import { detectFormat, type ModelFormat, type TfjsFormat } from "../formats/format.ts";
import { inspectSavedModel } from "../formats/savedmodel/inspect.ts";
import { decodeSavedModel } from "../formats/savedmodel/graph.ts";
import { defaultSignature } from "../formats/savedmodel/convert.ts";
import { neededOps } from "../formats/savedmodel/ops.ts";
import { verifyTensorBundle } from "../formats/tensor-bundle.ts";
import { inspectTfjsModel } from "../formats/tfjs.ts";
import { inspectTflite, type TfliteInfo, type TfliteTensor } from "../formats/tflite.ts";
import type { Finding, MetaGraphEvidence, SignaturesEvidence } from "./evidence.ts";

/** The static verdict on a model: its format, what it declares, and what the checks found. */
export type StaticResult = {
  status: Extract<ValidationStatus, "passed" | "failed" | "quarantined">;
  format: ModelFormat;
  level: "static";
  signatures: SignaturesEvidence | null;
  findings: Finding[];
  parameterCount: number | null;
  error?: string;
};

function fail(format: StaticResult["format"], error: string, findings: Finding[] = []): StaticResult {
  return { status: "failed", format, level: "static", signatures: null, findings, parameterCount: null, error };
}

const reason = (err: unknown) => (err instanceof AppError ? err.message : `internal error: ${(err as Error).message}`);

/** The `signatures` of a TFLite file: its tensors where the flatbuffer could be read, else its schema version. */
export function tfliteSignatures(info: TfliteInfo): SignaturesEvidence {
  const d = info.details;
  if (!d) return { schemaVersion: info.schemaVersion };
  const tensor = (t: TfliteTensor) => ({
    name: t.name,
    index: t.index,
    dtype: t.dtype,
    shape: t.shape,
    ...(t.quantization ? { quantization: t.quantization } : {}),
  });
  return {
    schemaVersion: info.schemaVersion,
    inputs: d.inputs.map(tensor),
    outputs: d.outputs.map(tensor),
    signatureDefs: d.signatures,
    customOps: d.customOps,
  };
}

/**
 * Validates a TFLite file's bytes: the header must hold (identifier, root table, version). The tensors
 * are recorded where they can be read; a file whose deeper structure is broken passes here and fails
 * when the runtime loads it, with the runtime's reason.
 */
export function validateTfliteBytes(buf: Buffer): StaticResult {
  try {
    const info = inspectTflite(buf);
    return {
      status: "passed",
      format: "tflite",
      level: "static",
      signatures: tfliteSignatures(info),
      findings: [],
      parameterCount: info.details?.parameterCount ?? null,
    };
  } catch (err) {
    return fail("tflite", reason(err));
  }
}

/** Per meta graph: the ops its default signature needs (null where it has none). */
function neededByDefaultSignature(pb: Buffer): Array<(Set<string> & { signature: string }) | null> {
  try {
    return decodeSavedModel(pb).map((mg) => {
      const sig = defaultSignature(mg);
      return sig ? Object.assign(neededOps(mg, sig), { signature: sig.key }) : null;
    });
  } catch {
    return []; // the static inspection above already accepted the file; reachability is extra detail
  }
}

function validateSavedModel(dir: string, format: "saved_model" | "tf1_hub"): StaticResult {
  try {
    const pb = fs.readFileSync(path.join(dir, "saved_model.pb"));
    const info = inspectSavedModel(pb);
    let parameterCount: number | null = null;
    if (fs.existsSync(path.join(dir, "variables", "variables.index")))
      parameterCount = verifyTensorBundle(path.join(dir, "variables", "variables")).parameterCount;
    const findings: Finding[] = info.findings.map((f) => ({
      code: f.code,
      severity: f.severity,
      message: f.message,
      op: f.op,
      node: f.node,
    }));
    const needed = neededByDefaultSignature(pb);
    const signatures = info.metaGraphs.map((m, k): MetaGraphEvidence => {
      const ops = needed[k];
      return {
        tags: m.tags,
        tensorflowVersion: m.tensorflowVersion,
        signatures: m.signatures,
        ops: m.ops.map((o) => (ops ? { ...o, needed: ops.has(o.op) } : o)),
        ...(ops ? { opsFor: ops.signature } : {}),
      };
    });
    return {
      status: findings.some((f) => f.severity === "danger") ? "quarantined" : "passed",
      format,
      level: "static",
      signatures,
      findings,
      parameterCount,
    };
  } catch (err) {
    return fail(format, reason(err));
  }
}

/** `format` is what detectFormat read from model.json; the checks' own reading names a passed model. */
function validateTfjs(dir: string, format: TfjsFormat): StaticResult {
  try {
    const sizes: Record<string, number> = {};
    for (const f of fs.readdirSync(dir))
      if (f !== "model.json" && fs.statSync(path.join(dir, f)).isFile()) sizes[f] = fs.statSync(path.join(dir, f)).size;
    const info = inspectTfjsModel(fs.readFileSync(path.join(dir, "model.json"), "utf8"), sizes);
    return {
      status: "passed",
      format: info.format,
      level: "static",
      signatures: { inputs: info.inputs, outputs: info.outputs },
      findings: [],
      parameterCount: info.parameterCount,
    };
  } catch (err) {
    return fail(format, reason(err));
  }
}

/** Validates an extracted model directory. */
export function validateDirectory(dir: string): StaticResult {
  const root = fs.readdirSync(dir);
  const detected = detectFormat({
    paths: root,
    modelJson: () => JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8")),
  });
  switch (detected.format) {
    case "saved_model":
    case "tf1_hub":
      if (detected.text)
        return fail(
          "saved_model",
          "saved_model.pbtxt (text format) is not supported: export the SavedModel in binary form",
        );
      return validateSavedModel(dir, detected.format);
    case "tfjs_graph":
    case "tfjs_layers":
      return validateTfjs(dir, detected.format);
    case "unknown":
      return fail(
        "unknown",
        `unrecognised format: no saved_model.pb or model.json at the archive root (found ${root.slice(0, 8).join(", ") || "nothing"})`,
      );
  }
}
