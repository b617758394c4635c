// `npm run bench:catalogue`: catalogue search with many models. Loads 50,000 models with realistic
// metadata (publishers, tasks, tags, titles, markdown descriptions; 1-3 versions each, most approved,
// download counts) into a fresh PostgreSQL database, starts Hubkeep as `npm start` runs it, and
// drives GET /api/v1/models with 50 concurrent clients over a mix of searches (words, prefixes,
// facets, sorts, pages). Prints p50/p95/p99 server-side (the route's Server-Timing) and end to end,
// and the same for /healthz at the same concurrency as the baseline (the framework's own floor).
// Goal: p95 <= 50 ms server-side. Needs PostgreSQL: DATABASE_URL (default
// postgresql://postgres@127.0.0.1:5432/postgres) names the server a bench database is created on.
// BENCH_MODELS (default 50000), BENCH_CLIENTS (50), BENCH_SECONDS (20).
import pg from "pg";
import { startServer, freePort } from "../test/helpers/server.ts";

const MODELS = Number(process.env.BENCH_MODELS ?? 50_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const ADMIN_URL = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

// A small deterministic PRNG, so every run loads the same catalogue.
let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;

const PUBLISHERS = [
  "google",
  "tensorflow",
  "deepmind",
  "kaggle",
  "internal/vision",
  "internal/nlp",
  "internal/speech",
  "internal/ranking",
  "nvidia",
  "huggingface",
  "openai",
  "meta",
  "sayakpaul",
  "keras-io",
];
const ARCHS = [
  "mobilenet_v2",
  "mobilenet_v3_small",
  "mobilenet_v3_large",
  "efficientnet_b0",
  "efficientnet_b3",
  "resnet_50",
  "resnet_101",
  "inception_v3",
  "bert_en_uncased",
  "albert_base",
  "electra_small",
  "universal_sentence_encoder",
  "movenet",
  "blazeface",
  "yamnet",
  "vggish",
  "ssd_mobilenet",
  "faster_rcnn",
  "centernet",
  "deeplab_v3",
  "bit_m_r50x1",
  "vit_b16",
  "convnext_tiny",
  "t5_small",
  "wav2vec2",
];
const TASKS = [
  "image-classification",
  "image-feature-vector",
  "object-detection",
  "image-segmentation",
  "text-embedding",
  "text-classification",
  "pose-detection",
  "audio-event-classification",
  "speech-recognition",
  "question-answering",
];
const LICENSES = ["Apache-2.0", "MIT", "CC-BY-4.0", "BSD-3-Clause", "proprietary"];
const TAGS = [
  "vision",
  "nlp",
  "audio",
  "imagenet",
  "coco",
  "tfjs",
  "tflite",
  "quantized",
  "fine-tuned",
  "edge",
  "multilingual",
  "distilled",
  "int8",
  "fp16",
  "production",
  "experimental",
];
const WORDS = [
  "trained",
  "on",
  "large",
  "dataset",
  "features",
  "fast",
  "accurate",
  "mobile",
  "devices",
  "inference",
  "input",
  "images",
  "text",
  "tokens",
  "layer",
  "embedding",
  "classifier",
  "pretrained",
  "fine-tune",
  "transfer",
  "learning",
  "benchmark",
  "latency",
  "accuracy",
  "resolution",
  "batch",
  "signature",
  "output",
  "logits",
  "probabilities",
];
const FORMATS = ["saved_model", "saved_model", "saved_model", "tf1_hub", "tfjs_graph", "tflite"];

function model(i: number) {
  const arch = pick(ARCHS);
  const publisher = pick(PUBLISHERS);
  const task = pick(TASKS);
  const res = pick(["224", "192", "160", "128", "320", "512"]);
  const handle = `${publisher}/${arch}_${res}/${task.split("-")[0]}_${i}`;
  const title = `${arch.replace(/_/g, " ").replace(/\b\w/g, (c) => c.toUpperCase())} ${res} ${task.replace(/-/g, " ")}`;
  const sentences = Array.from(
    { length: 3 + Math.floor(rand() * 4) },
    () => Array.from({ length: 8 + Math.floor(rand() * 8) }, () => pick(WORDS)).join(" ") + ".",
  );
  const description = `## ${title}\n\n${sentences.join(" ")}\n\n**Input:** ${res}x${res} images.`;
  const tags = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(TAGS)))];
  return {
    handle,
    title,
    description,
    task,
    tags,
    license: pick(LICENSES),
    publisher: publisher.split("/")[0]!,
    versions: 1 + Math.floor(rand() * 3),
  };
}

const QUERIES: string[] = [
  "q=mobilenet",
  "q=mobilenet%20v3",
  "q=efficient",
  "q=bert%20text",
  "q=object%20detection",
  "q=image%20feature%20vector",
  "q=pose",
  "q=audio%20event",
  "q=resnet&sort=downloads",
  "q=quantized%20edge",
  "q=vision&license=Apache-2.0",
  "q=transfer%20learning&page=3",
  "publisher=google",
  "task=text-embedding&sort=recent",
  "format=tflite&sort=downloads",
  "sort=downloads",
  "",
  "page=50",
  "q=wav2vec2%20speech&format=saved_model",
  "q=convnext&publisher=internal",
];

function pct(xs: number[], p: number) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function load(url: string, paths: string[], seconds: number, clients: number) {
  const server: number[] = [];
  const total: number[] = [];
  let errors = 0;
  const until = Date.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < until) {
        const p = paths[n++ % paths.length]!;
        const t0 = performance.now();
        const res = await fetch(`${url}${p}`).catch(() => null);
        if (!res || !res.ok) {
          errors++;
          continue;
        }
        await res.arrayBuffer();
        total.push(performance.now() - t0);
        const st = /dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "");
        if (st) server.push(Number(st[1]));
      }
    }),
  );
  return { server, total, errors, rps: total.length / seconds };
}

async function main() {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    console.error(`bench:catalogue needs PostgreSQL (${ADMIN_URL}): ${(err as Error).message}`);
    process.exit(2);
  }
  const dbName = `hk_bench_catalogue_${Date.now()}`;
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const port = await freePort();
  const server = await startServer({
    DATABASE_URL: dbUrl.toString(),
    PORT: String(port),
    HUBKEEP_DATA_DIR: `/tmp/${dbName}`,
    HUBKEEP_IN_PROCESS_WORKER: "false",
    HUBKEEP_ANONYMOUS_READ: "true",
  });
  const db = new pg.Client({ connectionString: dbUrl.toString() });
  try {
    await db.connect();
    console.log(`loading ${MODELS} models into ${dbName} …`);
    const t0 = performance.now();
    await db.query(`INSERT INTO "Blob"(digest, size, "storageKey") VALUES ('sha256:${"0".repeat(64)}', 1000, 'bench')`);
    const BATCH = 2000;
    let versions = 0;
    for (let start = 0; start < MODELS; start += BATCH) {
      const rows = Array.from({ length: Math.min(BATCH, MODELS - start) }, (_, k) => model(start + k));
      const ids = await db.query<{ id: string; handle: string }>(
        `INSERT INTO "Module"(id, handle, source, title, description, task, tags, license, publisher, "updatedAt")
         SELECT 'm' || md5(h), h, 'upstream', t, d, k, string_to_array(g, ','), l, p, now() - (random() * interval '400 days')
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(h, t, d, k, g, l, p)
         RETURNING id, handle`,
        [
          rows.map((r) => r.handle),
          rows.map((r) => r.title),
          rows.map((r) => r.description),
          rows.map((r) => r.task),
          rows.map((r) => r.tags.join(",")),
          rows.map((r) => r.license),
          rows.map((r) => r.publisher),
        ],
      );
      const byHandle = new Map(ids.rows.map((r) => [r.handle, r.id]));
      const vm: string[] = [];
      const vn: number[] = [];
      const vs: string[] = [];
      const vf: string[] = [];
      for (const r of rows) {
        for (let n = 1; n <= r.versions; n++) {
          vm.push(byHandle.get(r.handle)!);
          vn.push(n);
          vs.push(rand() < 0.8 ? "approved" : pick(["validated", "pending", "failed", "quarantined", "rejected"]));
          vf.push(pick(FORMATS));
        }
      }
      versions += vm.length;
      const v = await db.query<{ id: string }>(
        `INSERT INTO "Version"(id, "moduleId", number, format, status, digest, size, "updatedAt")
         SELECT 'v' || md5(m || n), m, n, f::"ModelFormat", s::"VersionStatus", 'sha256:${"0".repeat(64)}', 1000 + n, now()
         FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS u(m, n, s, f) RETURNING id`,
        [vm, vn, vs, vf],
      );
      const withDownloads = v.rows.filter(() => rand() < 0.3);
      if (withDownloads.length) {
        await db.query(
          `INSERT INTO "DownloadCount"("versionId", day, count) SELECT id, current_date, c FROM unnest($1::text[], $2::int[]) AS u(id, c)`,
          [withDownloads.map((r) => r.id), withDownloads.map(() => Math.floor(rand() ** 3 * 100_000))],
        );
        // As the download counter's flush keeps it: each model's total.
        await db.query(
          `UPDATE "Module" m SET downloads = t.total FROM (SELECT v."moduleId", sum(d.count)::bigint AS total FROM "DownloadCount" d JOIN "Version" v ON v.id = d."versionId" WHERE v.id = ANY($1::text[]) GROUP BY v."moduleId") t WHERE t."moduleId" = m.id`,
          [withDownloads.map((r) => r.id)],
        );
      }
    }
    await db.query(`ANALYZE`);
    console.log(`loaded ${MODELS} models, ${versions} versions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const url = `${server.url}/api/v1/models?`;
    // Cold: the first request of each shape, one at a time (nothing cached yet).
    const cold = [];
    for (const q of QUERIES) cold.push(...(await load(url, [q], 0.001, 1)).server);
    console.log(
      `cold (first request per shape, uncached rows and facets): server-side p50 ${pct(cold, 50).toFixed(1)} ms, p95 ${pct(cold, 95).toFixed(1)} ms, max ${Math.max(...cold).toFixed(1)} ms`,
    );
    await load(url, QUERIES, 3, CLIENTS); // warm-up
    const search = await load(url, QUERIES, SECONDS, CLIENTS);
    const base = await load(`${server.url}/healthz`, [""], Math.min(10, SECONDS), CLIENTS);
    const fmt = (xs: number[]) =>
      `p50 ${pct(xs, 50).toFixed(1)} ms  p95 ${pct(xs, 95).toFixed(1)} ms  p99 ${pct(xs, 99).toFixed(1)} ms`;
    console.log(`\nsearch, ${CLIENTS} clients, ${SECONDS} s, ${QUERIES.length} query shapes, ${MODELS} models:`);
    console.log(`  server-side (Server-Timing): ${fmt(search.server)}`);
    console.log(
      `  end to end:                  ${fmt(search.total)}   ${search.rps.toFixed(0)} req/s, ${search.errors} errors`,
    );
    console.log(`baseline /healthz, same clients: end to end ${fmt(base.total)}   ${base.rps.toFixed(0)} req/s`);
    console.log(`ratio search/healthz end-to-end p95: ${(pct(search.total, 95) / pct(base.total, 95)).toFixed(2)}x`);
    const p95 = pct(search.server, 95);
    console.log(`goal p95 <= 50 ms server-side: ${p95 <= 50 ? "met" : "NOT met"} (${p95.toFixed(1)} ms)`);
    // Each shape once more, uncached: a page size no earlier request used makes a new cache key, and
    // a fresh facet key is not possible, so this is the row query's own cost plus cached facets.
    console.log("each query shape, first request with a new page size (its rows not cached), 1 client:");
    for (const [i, q] of QUERIES.entries()) {
      const one = await load(`${url}pageSize=${21 + i}&`, [q], 0.001, 1);
      console.log(`  ${(q || "(no query)").padEnd(44)} server ${pct(one.server, 50).toFixed(1)} ms`);
    }
  } finally {
    await db.end().catch(() => {});
    await server.stop();
    if (!process.env.BENCH_KEEP) await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => {});
    else console.log(`kept database ${dbName}`);
    await admin.end();
  }
}

await main();
