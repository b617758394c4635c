// One reading of the signatures a validation run recorded, whatever the format: SavedModel and TF1
// Hub modules (meta graphs of signatures), TF.js (inputs/outputs), TFLite (none recorded yet).
// Pages, the review queue and its diff all use it. The columns are read through
// lib/validation/evidence.ts, which knows their shapes (old rows included).
import {
  readExecution,
  readFindings,
  readSignatures,
  type OpRowEvidence,
  type StoredFinding,
} from "../validation/evidence.ts";

/** One tensor of a signature, as pages show it. */
/** A TFLite tensor's quantization: real = scale * (q - zeroPoint), per `axis` when there are several. */
export type QuantizationView = { scale: number[]; zeroPoint: number[]; axis: number };
export type TensorSpecView = { name: string; dtype: string; shape: number[] | null; quantization?: QuantizationView };
/** One signature: its key and its inputs and outputs. */
export type SignatureView = { key: string; inputs: TensorSpecView[]; outputs: TensorSpecView[] };

export const shapeText = (s: number[] | null | undefined) =>
  s == null ? "unknown rank" : `[${s.map((d) => (d < 0 ? "None" : d)).join(", ")}]`;
export const dtypeText = (d: string) => d.replace(/^DT_/, "").toLowerCase();

/**
 * The signatures a run recorded. A TF.js manifest often names no outputs; when the sandbox ran the
 * model, the outputs it actually produced (`execution`) fill them in.
 */
export function signaturesOf(
  validation: { signatures: unknown; execution?: unknown } | null | undefined,
): SignatureView[] {
  const s = readSignatures(validation?.signatures);
  const view = (t: TensorSpecView): TensorSpecView => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    ...(t.quantization ? { quantization: t.quantization } : {}),
  });
  if (Array.isArray(s))
    return s.flatMap((m) =>
      m.signatures.map((sig) => ({ key: sig.key, inputs: sig.inputs.map(view), outputs: sig.outputs.map(view) })),
    );
  if (s && "inputs" in s) {
    const outputs = s.outputs.length ? s.outputs : (readExecution(validation?.execution)?.outputs ?? []);
    return [{ key: "model", inputs: s.inputs.map(view), outputs: outputs.map(view) }];
  }
  return [];
}

/** A quantization block in words: `scale 0.0078, zero point 128`, or per-axis with the count. */
export function quantizationText(q: QuantizationView): string {
  if (q.scale.length === 1) return `scale ${q.scale[0]!.toPrecision(4)}, zero point ${q.zeroPoint[0] ?? 0}`;
  return `per-axis on axis ${q.axis}: ${q.scale.length} scales and zero points`;
}

/** One line per signature, e.g. `serving_default(x: float32[None, 3]) -> y: float32[None, 1]`. */
export function signatureLine(sig: SignatureView): string {
  const t = (x: TensorSpecView) => `${x.name}: ${dtypeText(x.dtype)}${shapeText(x.shape)}`;
  return `${sig.key}(${sig.inputs.map(t).join(", ")}) -> ${sig.outputs.map(t).join(", ") || "()"}`;
}

/** Human byte sizes (binary units). */
export function formatBytes(n: number | bigint): string {
  const b = Number(n);
  if (b < 1024) return `${b} B`;
  if (b < 1048576) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1073741824) return `${(b / 1048576).toFixed(1)} MiB`;
  return `${(b / 1073741824).toFixed(2)} GiB`;
}

/** One op of the op report: how often it occurs, whether TF.js runs it, whether the default signature needs it. */
export type OpRow = OpRowEvidence;
/** The op report of a version, with the ops that keep it from running in TF.js. */
export type OpsView = {
  signature: string | null;
  total: number;
  ops: OpRow[];
  blocking: OpRow[];
  verdict: "runs" | "blocked";
};

/**
 * "Which ops does this model use, and which of them can run here": the op report the static checks
 * recorded for a SavedModel / TF1 Hub version (the serve meta graph, else the first with one), or
 * null when the run recorded none (other formats, older runs).
 */
export function opsOf(validation: { signatures: unknown } | null | undefined): OpsView | null {
  const s = readSignatures(validation?.signatures);
  if (!Array.isArray(s)) return null;
  const graphs = s.flatMap((m) => (m.ops ? [{ ...m, ops: m.ops }] : []));
  const mg = graphs.find((m) => m.tags.includes("serve")) ?? graphs[0];
  if (!mg) return null;
  const ops = mg.ops;
  // An op blocks unless it is known not to be needed by the default signature.
  const blocking = ops.filter((o) => (o.support === "unsupported" || o.support === "custom") && o.needed !== false);
  return {
    signature: mg.opsFor ?? null,
    total: ops.length,
    ops,
    blocking,
    verdict: blocking.length ? "blocked" : "runs",
  };
}

export const SUPPORT_TEXT: Record<OpRow["support"], string> = {
  tfjs: "runs in TF.js",
  converter: "removed by the converter (calls inlined, variables frozen)",
  saver: "saver/initialiser only",
  unsupported: "not in TF.js",
  custom: "custom op (not TensorFlow core)",
};

/** One line for the queue and the model page, e.g. "38 ops; all run in TF.js" or "blocked by ParseExampleV2 (not in TF.js)". */
export function opsSummary(v: OpsView): string {
  if (v.verdict === "runs")
    return `${v.total} op${v.total === 1 ? "" : "s"}; ${v.signature ? `everything ${v.signature} needs` : "all"} can run in TF.js`;
  return `blocked by ${v.blocking.map((o) => `${o.op} (${o.support === "custom" ? "custom op" : "not in TF.js"})`).join(", ")}`;
}

/** What the savedmodel-js converter did when it converted the model. */
export type ConversionView = {
  runtime: string;
  signature: string | null;
  convertMs: number | null;
  nodes: number | null;
  functions: number | null;
  inlinedCalls: number | null;
  frozenVariables: number | null;
  parameters: number | null;
};

/** What the savedmodel-js converter did when it converted and ran the model (`execution.conversion`), or null. */
export function conversionOf(validation: { execution?: unknown } | null | undefined): ConversionView | null {
  const c = readExecution(validation?.execution)?.conversion;
  return c ? { ...c } : null;
}

/** Why the runtime tried and could not run the model, and the op that stopped it (if one did). */
export type NotRunView = { runtime: string; op: string | null; reason: string };

/**
 * Why the runtime tried and could not run the model, from its `runtime_refused` finding (with the op
 * that stopped it, when one did), or null. Not the same as the op check: a model whose ops all exist
 * in TF.js can still be stopped (a partitioned variable, a variable write, a string or ragged input,
 * weights too big).
 */
export function notRunOf(validation: { findings?: unknown } | null | undefined): NotRunView | null {
  for (const f of readFindings(validation?.findings)) {
    const notRun =
      f.code === undefined
        ? legacyNotRunOf(f)
        : f.code === "runtime_refused"
          ? { runtime: f.runtime, op: f.op || null, reason: f.reason }
          : null;
    if (notRun) return notRun;
  }
  return null;
}

/**
 * Legacy: runs written before findings had codes said it only in words, "not executed by <runtime>:
 * <reason>". Read only for those rows; new findings are told by their code.
 */
function legacyNotRunOf(f: StoredFinding): NotRunView | null {
  const m = /^not executed by ([^:]+): ([\s\S]*)$/.exec(f.message);
  return m ? { runtime: m[1]!, op: f.op || null, reason: m[2]! } : null;
}

/**
 * The badge for the TF.js question: what happened when the runtime tried beats the static op check
 * (`executed`: the converted model ran in TF.js, which is proof; a "not executed by" finding is a
 * refusal); else the op check.
 */
export function tfjsVerdict(
  ops: OpsView,
  evidence: { executed?: boolean; notRun?: NotRunView | null },
): { ok: boolean; label: string } {
  if (evidence.executed) return { ok: true, label: "runs in TF.js (executed)" };
  if (evidence.notRun) return { ok: false, label: "did not run in TF.js" };
  return ops.verdict === "runs" ? { ok: true, label: "runs in TF.js" } : { ok: false, label: "does not run in TF.js" };
}

/**
 * What a validation run says about TF.js, for pages and the queue alike: `executed` (for a SavedModel
 * the only runtime is savedmodel-js, so level `executed` means the converted model ran in TF.js) and
 * the refusal, if the runtime tried and could not.
 */
export function tfjsEvidence(validation: { level?: string | null; findings?: unknown } | null | undefined): {
  executed: boolean;
  notRun: NotRunView | null;
} {
  return { executed: validation?.level === "executed", notRun: notRunOf(validation) };
}
