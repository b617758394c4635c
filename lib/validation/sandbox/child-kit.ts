// What every runtime the sandbox child runs shares (./child.ts for TF.js and tfjs-node,
// ../runtimes/tflite.ts for TFLite): the two errors that classify a failure, the deterministic
// synthetic numbers, the count of non-finite outputs, and the one benchmark loop whose numbers
// become Benchmark rows.
import type { ChildBenchmark } from "./protocol.ts";

/** Something about the model itself: the validation fails with this message. */
export class Finding extends Error {}
/** The model uses something this runtime cannot run: not a failure of the model. */
export class Unsupported extends Finding {
  op: string | undefined;
  constructor(message: string, op?: string) {
    super(message);
    this.op = op;
  }
}

export const messageOf = (err: unknown) =>
  String((typeof err === "object" && err !== null && "message" in err && err.message) || err);

/** Deterministic uniform [-1, 1) numbers (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** NaN and infinite values among `values` (integers are always finite). */
export function countNonFinite(values: ArrayLike<number | bigint | string | boolean>): { nan: number; inf: number } {
  let nan = 0;
  let inf = 0;
  for (let j = 0; j < values.length; j++) {
    const x = values[j];
    if (typeof x !== "number") continue;
    if (Number.isNaN(x)) nan++;
    else if (!Number.isFinite(x)) inf++;
  }
  return { nan, inf };
}

/**
 * Runs `infer` (one complete inference, results read back as a client would) at least `minRuns` times
 * and for at least `maxBenchMs`, at most 1000 times, after a first inference measured apart.
 */
export async function benchmark(
  infer: () => Promise<void> | void,
  opts: { batch: number; firstInferenceMs: number; minRuns: number; maxBenchMs: number },
): Promise<ChildBenchmark> {
  const samples: number[] = [];
  const b0 = performance.now();
  while (samples.length < opts.minRuns || (performance.now() - b0 < opts.maxBenchMs && samples.length < 1000)) {
    const s0 = performance.now();
    await infer();
    samples.push(performance.now() - s0);
    if (samples.length >= opts.minRuns && performance.now() - b0 >= opts.maxBenchMs) break;
  }
  const total = samples.reduce((a, b) => a + b, 0);
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    batch: opts.batch,
    firstInferenceMs: opts.firstInferenceMs,
    p50Ms: quantile(sorted, 0.5),
    p95Ms: quantile(sorted, 0.95),
    p99Ms: quantile(sorted, 0.99),
    throughputPerSec: total > 0 ? (opts.batch * samples.length * 1000) / total : 0,
    samplesMs: samples,
  };
}
