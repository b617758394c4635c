// "TF.js compatibility": whether the model runs in TF.js, what the converter did, what stopped the
// runtime, and every op of the graph with its TF.js support.
import {
  conversionOf,
  opsOf,
  opsSummary,
  SUPPORT_TEXT,
  tfjsEvidence,
  tfjsVerdict,
  type ConversionView,
  type OpRow,
  type OpsView,
} from "@/lib/models/signatures.ts";
import { BlockingOps } from "../ui/common.tsx";
import { DataTable, type Column } from "../ui/table.tsx";
import type { VersionView } from "./model-page-view.ts";

function summarizeConversion(c: ConversionView): string {
  return [
    c.nodes !== null ? `${c.nodes} nodes` : null,
    c.inlinedCalls !== null ? `${c.inlinedCalls} function call${c.inlinedCalls === 1 ? "" : "s"} inlined` : null,
    c.frozenVariables !== null ? `${c.frozenVariables} variable${c.frozenVariables === 1 ? "" : "s"} frozen` : null,
  ]
    .filter(Boolean)
    .join(", ");
}

function OpsTable({ ops }: { ops: OpsView }) {
  const columns: Array<Column<OpRow>> = [
    { header: "op", rowHeader: true, cell: (o) => <code>{o.op}</code> },
    { header: "count", cell: (o) => o.count },
    {
      header: "TF.js support",
      cell: (o) => (
        <>
          {SUPPORT_TEXT[o.support]}
          {ops.blocking.includes(o) ? <span className="sr-only"> (blocks the model)</span> : null}
        </>
      ),
    },
    {
      header: <>needed{ops.signature ? ` by ${ops.signature}` : ""}</>,
      cell: (o) => (o.needed === undefined ? "not known" : o.needed ? "yes" : "no"),
    },
  ];
  return (
    <DataTable
      columns={columns}
      rows={ops.ops}
      rowKey={(o) => o.op}
      rowClassName={(o) => (ops.blocking.includes(o) ? "blocking" : undefined)}
      className="compact ops"
      frame="scroll"
      caption={
        <>
          Every op in the graph and its functions, whether TF.js can run it
          {ops.signature ? `, and whether ${ops.signature} needs it` : ""}
          {ops.blocking.length ? "; highlighted rows block the model" : ""}
        </>
      }
    />
  );
}

export function TfjsCompatibilitySection({ validation }: { validation: VersionView["validation"] }) {
  const ops = opsOf(validation);
  if (!ops) return null;
  const conversion = conversionOf(validation);
  const evidence = tfjsEvidence(validation);
  const notRun = evidence.notRun;
  const tfjs = tfjsVerdict(ops, evidence);
  return (
    <section className="card" aria-labelledby="tfjs">
      <h2 id="tfjs">TF.js compatibility</h2>
      <p>
        <span className={`status ${tfjs.ok ? "status-ok" : "status-warn"}`}>{tfjs.label}</span>{" "}
        {ops.verdict === "runs" ? (
          <>
            {opsSummary(ops)}
            {notRun ? ", but the runtime could not convert or run the model:" : "."}
          </>
        ) : (
          <>
            Blocked by <BlockingOps ops={ops.blocking} />
            {ops.signature ? `, needed by ${ops.signature}` : ""}.
          </>
        )}
      </p>
      {conversion && ops.verdict === "blocked" ? (
        <p className="meta">
          The converted model executed anyway: the flagged ops were not on the path{" "}
          {conversion.signature ?? "the signature"} took.
        </p>
      ) : null}
      {conversion ? (
        <p className="meta">
          Converted by {conversion.runtime}
          {conversion.signature ? (
            <>
              {" "}
              for <code>{conversion.signature}</code>
            </>
          ) : null}
          {conversion.convertMs !== null ? ` in ${conversion.convertMs.toFixed(0)} ms` : ""}:{" "}
          {summarizeConversion(conversion)}.
        </p>
      ) : null}
      {notRun ? (
        <p>
          What stopped {notRun.runtime ?? "the runtime"}
          {notRun.op ? (
            <>
              {" "}
              at op{" "}
              <strong className="blocking-op">
                <code>{notRun.op}</code>
              </strong>
            </>
          ) : null}
          : {notRun.reason}
        </p>
      ) : null}
      <details>
        <summary>All {ops.total} ops</summary>
        <OpsTable ops={ops} />
      </details>
    </section>
  );
}
