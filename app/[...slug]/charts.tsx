"use client";
// Benchmark charts (recharts): the latency distribution of the timed runs, and the size of each
// version. Rendered on the client; the tables beside them carry the same numbers for screen readers.
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

/**
 * Buckets latency samples into 12 bins from the fastest run to the 99th percentile; the slower 1 %
 * go in the last bin (labelled "≥"), so one outlier does not flatten the distribution.
 */
export function histogram(samples: number[], bins = 12): Array<{ bin: string; runs: number }> {
  if (samples.length === 0) return [];
  const sorted = [...samples].sort((a, b) => a - b);
  const min = sorted[0]!;
  const hi = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
  const width = (hi - min) / (bins - 1) || 1;
  const digits = hi < 1 ? 3 : hi < 10 ? 2 : 1;
  const out = Array.from({ length: bins }, (_, i) => ({
    bin: `${i === bins - 1 ? "≥" : ""}${(min + i * width).toFixed(digits)}`,
    runs: 0,
  }));
  for (const s of sorted) out[Math.min(bins - 1, Math.floor((s - min) / width))]!.runs++;
  return out;
}

export function LatencyChart({ samples, batch }: { samples: number[]; batch: number }) {
  const data = histogram(samples);
  return (
    <figure className="chart" aria-label={`Latency distribution of ${samples.length} runs at batch ${batch}`}>
      <figcaption>
        Latency, batch {batch}: {samples.length} timed runs (ms)
      </figcaption>
      <ResponsiveContainer width="100%" height={180}>
        <BarChart data={data} margin={{ top: 8, right: 8, bottom: 4, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--line)" vertical={false} />
          <XAxis dataKey="bin" tick={{ fontSize: 11, fill: "var(--muted)" }} />
          <YAxis allowDecimals={false} tick={{ fontSize: 11, fill: "var(--muted)" }} />
          <Tooltip
            contentStyle={{ background: "var(--card)", border: "1px solid var(--line)" }}
            formatter={(v) => [`${v} runs`, "runs"]}
            labelFormatter={(l) => `from ${Number(l)} ms`}
          />
          <Bar dataKey="runs" fill="var(--accent)" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function SizeChart({ versions }: { versions: Array<{ number: number; mib: number; current: boolean }> }) {
  const small = Math.max(...versions.map((v) => v.mib)) < 1;
  const unit = small ? "KiB" : "MiB";
  const data = [...versions]
    .reverse()
    .map((v) => ({ version: `v${v.number}`, size: Number((small ? v.mib * 1024 : v.mib).toFixed(2)) }));
  return (
    <figure className="chart" aria-label="Archive size per version">
      <figcaption>Archive size per version ({unit})</figcaption>
      <ResponsiveContainer width="100%" height={180}>
        <BarChart data={data} margin={{ top: 8, right: 8, bottom: 4, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--line)" vertical={false} />
          <XAxis dataKey="version" tick={{ fontSize: 11, fill: "var(--muted)" }} />
          <YAxis tick={{ fontSize: 11, fill: "var(--muted)" }} />
          <Tooltip
            contentStyle={{ background: "var(--card)", border: "1px solid var(--line)" }}
            formatter={(v) => [`${v} ${unit}`, "size"]}
          />
          <Bar dataKey="size" fill="var(--ok)" isAnimationActive={false} maxBarSize={60} />
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}
