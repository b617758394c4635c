// One reading of the signatures a validation run recorded, whatever the format: SavedModel and TF1
// Hub modules (meta graphs of signatures), TF.js (inputs/outputs), TFLite (none recorded yet).
// Pages, the review queue and its diff all use it.

export type TensorSpecView = { name: string; dtype: string; shape: number[] | null };
export type SignatureView = { key: string; inputs: TensorSpecView[]; outputs: TensorSpecView[] };

export const shapeText = (s: number[] | null | undefined) => (s == null ? "unknown rank" : `[${s.map((d) => (d < 0 ? "None" : d)).join(", ")}]`);
export const dtypeText = (d: string) => d.replace(/^DT_/, "").toLowerCase();

/**
 * The signatures a run recorded. A TF.js manifest often names no outputs; when the sandbox ran the
 * model, the outputs it actually produced (`execution`) fill them in.
 */
export function signaturesOf(validation: { signatures: unknown; execution?: unknown } | null | undefined): SignatureView[] {
  const s = validation?.signatures as unknown;
  if (Array.isArray(s)) return (s as Array<{ signatures?: SignatureView[] }>).flatMap((m) => m.signatures ?? []);
  if (s && typeof s === "object" && "inputs" in s) {
    const t = s as { inputs: SignatureView["inputs"]; outputs?: SignatureView["outputs"] };
    const ran = validation?.execution as { outputs?: TensorSpecView[] } | null | undefined;
    const outputs = t.outputs?.length ? t.outputs : (ran?.outputs ?? []).map((o) => ({ name: o.name, dtype: o.dtype, shape: o.shape }));
    return [{ key: "model", inputs: t.inputs ?? [], outputs }];
  }
  return [];
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

export type OpRow = { op: string; count: number; support: "tfjs" | "converter" | "saver" | "unsupported" | "custom"; needed?: boolean };
export type OpsView = { signature: string | null; total: number; ops: OpRow[]; blocking: OpRow[]; verdict: "runs" | "blocked" };

/**
 * "Which ops does this model use, and which of them can run here": the op report the static checks
 * recorded for a SavedModel / TF1 Hub version (the serve meta graph, else the first with one), or
 * null when the run recorded none (other formats, older runs).
 */
export function opsOf(validation: { signatures: unknown } | null | undefined): OpsView | null {
  const s = validation?.signatures;
  if (!Array.isArray(s)) return null;
  const graphs = (s as Array<{ tags?: string[]; ops?: OpRow[]; opsFor?: string }>).filter((m) => Array.isArray(m.ops));
  const mg = graphs.find((m) => m.tags?.includes("serve")) ?? graphs[0];
  if (!mg) return null;
  const ops = mg.ops!;
  // An op blocks unless it is known not to be needed by the default signature.
  const blocking = ops.filter((o) => (o.support === "unsupported" || o.support === "custom") && o.needed !== false);
  return { signature: mg.opsFor ?? null, total: ops.length, ops, blocking, verdict: blocking.length ? "blocked" : "runs" };
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
  if (v.verdict === "runs") return `${v.total} op${v.total === 1 ? "" : "s"}; ${v.signature ? `everything ${v.signature} needs` : "all"} can run in TF.js`;
  return `blocked by ${v.blocking.map((o) => `${o.op} (${o.support === "custom" ? "custom op" : "not in TF.js"})`).join(", ")}`;
}

export type ConversionView = { runtime: string; signature: string | null; convertMs: number | null; nodes: number | null; functions: number | null; inlinedCalls: number | null; frozenVariables: number | null; parameters: number | null };

/** What the savedmodel-js converter did when it converted and ran the model (`execution.conversion`), or null. */
export function conversionOf(validation: { execution?: unknown } | null | undefined): ConversionView | null {
  const c = (validation?.execution as { conversion?: Record<string, unknown> } | null | undefined)?.conversion;
  if (!c || typeof c !== "object" || typeof c.runtime !== "string") return null;
  const n = (k: string) => (typeof c[k] === "number" && Number.isFinite(c[k]) ? (c[k] as number) : null);
  return {
    runtime: c.runtime,
    signature: typeof c.signature === "string" ? c.signature : null,
    convertMs: n("convertMs"),
    nodes: n("nodes"),
    functions: n("functions"),
    inlinedCalls: n("inlinedCalls"),
    frozenVariables: n("frozenVariables"),
    parameters: n("parameters"),
  };
}

export type NotRunView = { runtime: string; op: string | null; reason: string };

/**
 * Why the runtime tried and could not run the model, from the "not executed by <runtime>: <reason>"
 * finding (with the op that stopped it, when one did), or null. Not the same as the op check: a
 * model whose ops all exist in TF.js can still be stopped (a partitioned variable, a variable write,
 * a string or ragged input, weights too big).
 */
export function notRunOf(validation: { findings?: unknown } | null | undefined): NotRunView | null {
  const findings = Array.isArray(validation?.findings) ? (validation.findings as Array<{ message?: unknown; op?: unknown }>) : [];
  for (const f of findings) {
    const m = typeof f?.message === "string" ? /^not executed by ([^:]+): ([\s\S]*)$/.exec(f.message) : null;
    if (m) return { runtime: m[1]!, op: typeof f.op === "string" && f.op ? f.op : null, reason: m[2]! };
  }
  return null;
}

/**
 * The badge for the TF.js question: what happened when the runtime tried beats the static op check
 * (`executed`: the converted model ran in TF.js, which is proof; a "not executed by" finding is a
 * refusal); else the op check.
 */
export function tfjsVerdict(ops: OpsView, evidence: { executed?: boolean; notRun?: NotRunView | null }): { ok: boolean; label: string } {
  if (evidence.executed) return { ok: true, label: "runs in TF.js (executed)" };
  if (evidence.notRun) return { ok: false, label: "did not run in TF.js" };
  return ops.verdict === "runs" ? { ok: true, label: "runs in TF.js" } : { ok: false, label: "does not run in TF.js" };
}

/**
 * What a validation run says about TF.js, for pages and the queue alike: `executed` (for a SavedModel
 * the only runtime is savedmodel-js, so level `executed` means the converted model ran in TF.js) and
 * the refusal, if the runtime tried and could not.
 */
export function tfjsEvidence(validation: { level?: string | null; findings?: unknown } | null | undefined): { executed: boolean; notRun: NotRunView | null } {
  return { executed: validation?.level === "executed", notRun: notRunOf(validation) };
}
