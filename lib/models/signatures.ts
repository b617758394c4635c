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
