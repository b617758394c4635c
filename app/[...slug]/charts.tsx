"use client";
// Benchmark charts (recharts): the latency distribution of the timed runs, and the size of each
// version. Rendered on the client; the tables beside them carry the same numbers for screen readers.
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

/** Buckets latency samples into about 12 bins. */
export function histogram(samples: number[], bins = 12): Array<{ bin: string; runs: number }> {
  if (samples.length === 0) return [];
  const min = Math.min(...samples);
  const max = Math.max(...samples);
  const width = (max - min) / bins || 1;
  const out = Array.from({ length: bins }, (_, i) => ({ bin: `${(min + i * width).toFixed(max < 10 ? 2 : 1)}`, runs: 0 }));
  for (const s of samples) out[Math.min(bins - 1, Math.floor((s - min) / width))]!.runs++;
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
          <Tooltip contentStyle={{ background: "var(--card)", border: "1px solid var(--line)" }} formatter={(v) => [`${v} runs`, "runs"]} labelFormatter={(l) => `from ${l} ms`} />
          <Bar dataKey="runs" fill="var(--accent)" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function SizeChart({ versions }: { versions: Array<{ number: number; mib: number; current: boolean }> }) {
  return (
    <figure className="chart" aria-label="Archive size per version">
      <figcaption>Archive size per version (MiB)</figcaption>
      <ResponsiveContainer width="100%" height={180}>
        <BarChart data={[...versions].reverse().map((v) => ({ version: `v${v.number}`, mib: Number(v.mib.toFixed(3)) }))} margin={{ top: 8, right: 8, bottom: 4, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--line)" vertical={false} />
          <XAxis dataKey="version" tick={{ fontSize: 11, fill: "var(--muted)" }} />
          <YAxis tick={{ fontSize: 11, fill: "var(--muted)" }} />
          <Tooltip contentStyle={{ background: "var(--card)", border: "1px solid var(--line)" }} formatter={(v) => [`${v} MiB`, "size"]} />
          <Bar dataKey="mib" fill="var(--ok)" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}
