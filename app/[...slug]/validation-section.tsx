// "Validation and benchmarks": how the version was validated, its latency and size charts, and the
// benchmark table (the same numbers as the charts, for screen readers).
import { LatencyChart, SizeChart } from "./charts.tsx";
import { DataTable, type Column } from "../ui/table.tsx";
import type { ModelPageView, VersionView } from "./model-page-view.ts";

type BatchRow = NonNullable<VersionView["benchmark"]>["batches"][number];

const COLUMNS: Array<Column<BatchRow>> = [
  { header: "batch", cell: (b) => b.batch },
  { header: "first inference", cell: (b) => <>{b.firstInferenceMs.toFixed(1)} ms</> },
  { header: "p50", cell: (b) => <>{b.p50Ms.toFixed(2)} ms</> },
  { header: "p95", cell: (b) => <>{b.p95Ms.toFixed(2)} ms</> },
  { header: "p99", cell: (b) => <>{b.p99Ms.toFixed(2)} ms</> },
  { header: "throughput", cell: (b) => <>{b.throughputPerSec.toFixed(1)}/s</> },
];

export function ValidationSection({
  model,
  view,
  number,
}: {
  model: ModelPageView;
  view: VersionView;
  number: number;
}) {
  const benchmark = view.benchmark;
  // The latency chart shows batch 1 (the interactive case), else the first batch measured.
  const charted = benchmark?.batches.find((b) => b.batch === 1) ?? benchmark?.batches[0];
  const samples = charted?.samplesMs ?? [];
  return (
    <section className="card" aria-labelledby="val">
      <h2 id="val">Validation and benchmarks</h2>
      {view.validation ? (
        <p>
          {view.validation.level === "executed"
            ? `Executed in the sandbox with ${view.validation.runtime} (${view.validation.backend}).`
            : "Verified statically (parsed and checksummed); not executed on this server."}
          {view.validation.error ? ` Error: ${view.validation.error}` : ""}
        </p>
      ) : (
        <p className="meta">Not validated yet.</p>
      )}
      {benchmark ? (
        <div className="charts">
          {samples.length > 0 && charted && <LatencyChart samples={samples} batch={charted.batch} />}
          <SizeChart
            versions={model.versions.map((v) => ({
              number: v.number,
              mib: Number(v.size) / 1048576,
              current: v.number === number,
            }))}
          />
        </div>
      ) : null}
      {benchmark ? <DataTable columns={COLUMNS} rows={benchmark.batches} rowKey={(b) => b.batch} frame="none" /> : null}
    </section>
  );
}
