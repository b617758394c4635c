// `npm run bench:validate`: validation cost, against baselines measured in the same run.
//   1. wall time of a whole validation of human-blazeface (extract, static checks, sandboxed run
//      with >= 20 timed inferences, benchmark rows) vs the static checks alone, and vs a sandbox
//      round trip of a trivial model (the fixed cost of a fresh isolated child);
//   2. blazeface inference latency on the Wasm backend vs the cpu backend (p50 at batch 1), both
//      in the same sandbox, as a ratio.
// Prints medians of BENCH_RUNS runs (default 5). Nothing leaves loopback: the child has no network.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { setupTestDatabase } from "../test/helpers/db.ts";
import { fixturePath } from "../test/helpers/fixtures.ts";
import { writeFillModel } from "../test/helpers/hostile-models.ts";
import { FsBlobStore, setBlobStore } from "../lib/storage/index.ts";
import { packTarGz } from "../lib/archive/pack.ts";
import { publishVersion } from "../lib/models/versions.ts";
import { validateVersion } from "../lib/models/validate-version.ts";
import { validateDirectory } from "../lib/validation/static.ts";
import { executeModel } from "../lib/validation/execute.ts";
import { runInSandbox } from "../lib/validation/sandbox/run.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MiB = 1024 * 1024;
const limits = { timeoutMs: 600_000, memoryBytes: 2048 * MiB };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-bench-validate-"));
const db = await setupTestDatabase();
try {
  const store = new FsBlobStore({ root: path.join(work, "store") });
  setBlobStore(store);
  const modelDir = path.join(work, "blazeface");
  fs.mkdirSync(modelDir);
  fs.copyFileSync(fixturePath("human-blazeface", "blazeface.json"), path.join(modelDir, "model.json"));
  fs.copyFileSync(fixturePath("human-blazeface", "blazeface.bin"), path.join(modelDir, "blazeface.bin"));
  const entries = fs.readdirSync(modelDir).map((f) => {
    const bytes = fs.readFileSync(path.join(modelDir, f));
    return { path: f, size: bytes.length, open: () => Readable.from([bytes]) };
  });
  const primary = await store.put(packTarGz(entries));
  const v = await publishVersion({
    handle: "bench/blazeface",
    version: 1,
    format: "tfjs_graph",
    source: { kind: "upload", userId: null },
    primary,
    files: [],
    actor: null,
  });
  const trivial = writeFillModel(path.join(work, "trivial"), 2);

  const whole: number[] = [];
  const stat: number[] = [];
  const roundTrip: number[] = [];
  const wasmP50: number[] = [];
  const cpuP50: number[] = [];
  let backends = "";
  let isolation = "";
  for (let i = 0; i < RUNS; i++) {
    whole.push(
      await time(async () => {
        const r = await validateVersion({
          versionId: v.id,
          execution: { ...limits, backend: "wasm", minRuns: 20, maxBenchMs: 1 },
        });
        if (r.status !== "validated" || r.level !== "executed")
          throw new Error(`blazeface did not validate: ${r.verdict?.error}`);
        isolation = JSON.stringify(r.verdict?.isolation);
      }),
    );
    stat.push(await time(async () => validateDirectory(modelDir)));
    roundTrip.push(
      await time(async () => {
        const r = await runInSandbox(
          { runtime: "tfjs", backend: "cpu", format: "tfjs_graph", modelDir: trivial, minRuns: 1, maxBenchMs: 1 },
          limits,
        );
        if (r.kind !== "result" || !r.result.ok) throw new Error("trivial model did not run");
      }),
    );
    const w = await executeModel(modelDir, "tfjs_graph", { ...limits, backend: "wasm", minRuns: 20, maxBenchMs: 1 });
    const c = await executeModel(modelDir, "tfjs_graph", { ...limits, backend: "cpu", minRuns: 20, maxBenchMs: 1 });
    if (!w.result || !c.result) throw new Error(`blazeface did not run: ${w.error ?? c.error}`);
    backends = `${w.result.backend} vs ${c.result.backend}`;
    wasmP50.push(w.result.benchmarks[0]!.p50Ms);
    cpuP50.push(c.result.benchmarks[0]!.p50Ms);
    process.stderr.write(".");
  }
  process.stderr.write("\n");
  console.log(
    `bench:validate  (${RUNS} runs, medians; node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length})`,
  );
  console.log(`  isolation: ${isolation}`);
  console.log(`  human-blazeface whole validation (wasm, 20 timed runs): ${fmt(median(whole))} ms`);
  console.log(
    `    baseline: static checks only                         ${fmt(median(stat))} ms   -> whole/static = ${fmt(median(whole) / median(stat))}x`,
  );
  console.log(
    `    baseline: sandbox round trip of a trivial model      ${fmt(median(roundTrip))} ms   -> whole/round-trip = ${fmt(median(whole) / median(roundTrip))}x`,
  );
  console.log(
    `  blazeface p50 latency at batch 1 (${backends}): wasm ${fmt(median(wasmP50))} ms, cpu ${fmt(median(cpuP50))} ms -> cpu/wasm = ${fmt(median(cpuP50) / median(wasmP50))}x (Wasm is faster when > 1)`,
  );
} finally {
  setBlobStore(undefined);
  await db.drop();
  fs.rmSync(work, { recursive: true, force: true });
}
