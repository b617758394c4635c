// "Signatures": the input a caller must feed, and every signature's inputs and outputs.
import {
  dtypeText,
  quantizationText,
  shapeText,
  type SignatureView,
  type TensorSpecView,
} from "@/lib/models/signatures.ts";
import { DataTable, type Column } from "../ui/table.tsx";

function TensorList({ tensors }: { tensors: TensorSpecView[] }) {
  return (
    <>
      {tensors.map((t) => (
        <div key={t.name}>
          <code>{t.name}</code> {dtypeText(t.dtype)} {shapeText(t.shape)}
          {t.quantization && <span className="muted"> · quantized: {quantizationText(t.quantization)}</span>}
        </div>
      ))}
    </>
  );
}

const COLUMNS: Array<Column<SignatureView>> = [
  { header: "signature", cell: (s) => <code>{s.key}</code> },
  { header: "inputs", cell: (s) => <TensorList tensors={s.inputs} /> },
  { header: "outputs", cell: (s) => <TensorList tensors={s.outputs} /> },
];

export function SignaturesSection({
  signatures,
  input,
}: {
  signatures: SignatureView[];
  input: TensorSpecView | undefined;
}) {
  return (
    <section className="card" aria-labelledby="sigs">
      <h2 id="sigs">Signatures</h2>
      {input ? (
        <p>
          Required input <code>{input.name}</code>: shape <code>{shapeText(input.shape)}</code>
          {input.shape?.[0] !== undefined && input.shape[0] < 0 ? " (the first dimension is the batch)" : ""}.
        </p>
      ) : null}
      <DataTable
        columns={COLUMNS}
        rows={signatures}
        rowKey={(s) => s.key}
        frame="none"
        empty={<p className="meta">No signatures recorded.</p>}
      />
    </section>
  );
}
