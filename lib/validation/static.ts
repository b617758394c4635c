// Static validation: what a version is and whether its bytes are sound, without running it.
// Extracts the primary archive safely, detects the format, parses and checksums it, and scans
// SavedModel graphs for dangerous ops. Execution in the sandbox (level `executed`) comes on top of
// this; until a runtime ran a model, its level is `static`.
import fs from "node:fs";
import path from "node:path";
import { AppError } from "../errors.ts";
import { inspectSavedModel, type Finding } from "../formats/savedmodel/inspect.ts";
import { decodeSavedModel } from "../formats/savedmodel/graph.ts";
import { defaultSignature } from "../formats/savedmodel/convert.ts";
import { neededOps } from "../formats/savedmodel/ops.ts";
import { verifyTensorBundle } from "../formats/tensor-bundle.ts";
import { detectTfjsFormat, inspectTfjsModel } from "../formats/tfjs.ts";
import { inspectTflite } from "../formats/tflite.ts";

export type StaticFinding = { severity: "danger" | "warning" | "info"; message: string; op?: string; node?: string };

export type StaticResult = {
  status: "passed" | "failed" | "quarantined";
  format: "saved_model" | "tf1_hub" | "tfjs_graph" | "tfjs_layers" | "tflite" | "unknown";
  level: "static";
  signatures: unknown;
  findings: StaticFinding[];
  parameterCount: number | null;
  error?: string;
};

function fail(format: StaticResult["format"], error: string, findings: StaticFinding[] = []): StaticResult {
  return { status: "failed", format, level: "static", signatures: null, findings, parameterCount: null, error };
}

const reason = (err: unknown) => (err instanceof AppError ? err.message : `internal error: ${(err as Error).message}`);

/** Validates a TFLite file's bytes. */
export function validateTfliteBytes(buf: Buffer): StaticResult {
  try {
    const info = inspectTflite(buf);
    return { status: "passed", format: "tflite", level: "static", signatures: { schemaVersion: info.schemaVersion }, findings: [], parameterCount: null };
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

/** The TF.js format a model.json that failed its checks is recorded under: graph unless it says layers. */
function tfjsFormatOf(text: string): "tfjs_graph" | "tfjs_layers" {
  try {
    return detectTfjsFormat(JSON.parse(text)) ?? "tfjs_graph";
  } catch {
    return "tfjs_graph";
  }
}

/** Validates an extracted model directory. */
export function validateDirectory(dir: string): StaticResult {
  const has = (p: string) => fs.existsSync(path.join(dir, p));
  if (has("saved_model.pb")) {
    const format = has("tfhub_module.pb") ? "tf1_hub" : "saved_model";
    try {
      const pb = fs.readFileSync(path.join(dir, "saved_model.pb"));
      const info = inspectSavedModel(pb);
      let parameterCount: number | null = null;
      if (has("variables/variables.index")) parameterCount = verifyTensorBundle(path.join(dir, "variables", "variables")).parameterCount;
      const findings: StaticFinding[] = info.findings.map((f: Finding) => ({ severity: f.severity, message: f.message, op: f.op, node: f.node }));
      const needed = neededByDefaultSignature(pb);
      const signatures = info.metaGraphs.map((m, k) => ({
        tags: m.tags,
        tensorflowVersion: m.tensorflowVersion,
        signatures: m.signatures,
        ops: m.ops.map((o) => (needed[k] ? { ...o, needed: needed[k]!.has(o.op) } : o)),
        ...(needed[k] ? { opsFor: needed[k]!.signature } : {}),
      }));
      return { status: findings.some((f) => f.severity === "danger") ? "quarantined" : "passed", format, level: "static", signatures, findings, parameterCount };
    } catch (err) {
      return fail(format, reason(err));
    }
  }
  if (has("saved_model.pbtxt")) return fail("saved_model", "saved_model.pbtxt (text format) is not supported: export the SavedModel in binary form");
  if (has("model.json")) {
    let text = "";
    try {
      const sizes: Record<string, number> = {};
      for (const f of fs.readdirSync(dir)) if (f !== "model.json" && fs.statSync(path.join(dir, f)).isFile()) sizes[f] = fs.statSync(path.join(dir, f)).size;
      text = fs.readFileSync(path.join(dir, "model.json"), "utf8");
      const info = inspectTfjsModel(text, sizes);
      return { status: "passed", format: info.format, level: "static", signatures: { inputs: info.inputs, outputs: info.outputs }, findings: [], parameterCount: info.parameterCount };
    } catch (err) {
      return fail(tfjsFormatOf(text), reason(err));
    }
  }
  const found = fs.readdirSync(dir).slice(0, 8).join(", ") || "nothing";
  return fail("unknown", `unrecognised format: no saved_model.pb or model.json at the archive root (found ${found})`);
}
