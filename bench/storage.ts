// `npm run bench:storage`: blob store throughput against baselines measured in the same run.
//   1. filesystem put and get of a 256 MiB blob vs `cp` of the same file;
//   2. S3 put (hash-while-streaming multipart to staging + server-side copy) vs one plain PutObject
//      of the same bytes (S3_ENDPOINT if set, e.g. Ceph; otherwise an in-process s3rver);
//   3. peak RSS of a process putting 1 GiB (must stay under 200 MB) vs the same process only
//      generating and hashing the bytes.
// Prints medians of BENCH_RUNS runs (default 5) and ratios. Only loopback is contacted.
import { spawnSync } from "node:child_process";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { FsBlobStore } from "../lib/storage/index.ts";
import { createTestBucket, realS3FromEnv, startS3rver } from "../test/helpers/s3.ts";

const MiB = 1024 * 1024;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FS_SIZE = Number(process.env.BENCH_FS_MIB ?? 256) * MiB;
const S3_SIZE = Number(process.env.BENCH_S3_MIB ?? 256) * MiB;
const RSS_SIZE = Number(process.env.BENCH_RSS_MIB ?? 1024) * MiB;
const self = fileURLToPath(import.meta.url);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
const mbps = (bytes: number, ms: number) => bytes / MiB / (ms / 1000);
const fmt = (n: number) => n.toFixed(1);

async function time(fn: () => Promise<void>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Deterministic pseudo-random bytes (AES-CTR keystream), generated chunk by chunk, never whole. */
function* chunks(size: number, seed: number): Generator<Buffer> {
  const key = createHash("sha256").update(`hubkeep-bench-${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(4 * MiB);
  for (let done = 0; done < size;) {
    const n = Math.min(zeros.length, size - done);
    done += n;
    yield cipher.update(zeros.subarray(0, n));
  }
}

function makeFile(file: string, size: number) {
  const fd = fs.openSync(file, "w");
  for (let done = 0; done < size;) {
    const n = Math.min(8 * MiB, size - done);
    fs.writeSync(fd, randomBytes(n));
    done += n;
  }
  fs.closeSync(fd);
}

// ---- child mode: peak RSS of one 1 GiB put (or of only producing the bytes) ----
if (process.argv[2] === "--rss-child") {
  const mode = process.argv[3]!;
  const dir = process.argv[4]!;
  const source = Readable.from(chunks(RSS_SIZE, 7));
  if (mode === "put") {
    await new FsBlobStore({ root: dir }).put(source, { expectedSize: RSS_SIZE });
  } else {
    const h = createHash("sha256");
    for await (const c of source) h.update(c as Buffer);
  }
  const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1];
  process.stdout.write(JSON.stringify({ peakRssBytes: Number(hwm) * 1024 }));
  process.exit(0);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-bench-storage-"));
try {
  console.log(
    `bench:storage  runs=${RUNS}  node ${process.version}  ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length}`,
  );

  // 1. filesystem
  const src = path.join(work, "blob.bin");
  makeFile(src, FS_SIZE);
  const cpMs: number[] = [];
  const cpSyncMs: number[] = [];
  const shaMs: number[] = [];
  const putMs: number[] = [];
  const getMs: number[] = [];
  const catMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dst = path.join(work, "copy.bin");
    cpMs.push(await time(async () => void spawnSync("cp", [src, dst], { stdio: "inherit" })));
    fs.rmSync(dst);
    cpSyncMs.push(
      await time(
        async () => void spawnSync("sh", ["-c", `cp '${src}' '${dst}' && sync '${dst}'`], { stdio: "inherit" }),
      ),
    );
    fs.rmSync(dst);
    shaMs.push(await time(async () => void spawnSync("sha256sum", [src], { stdio: "ignore" })));
    const root = path.join(work, `store-${i}`);
    const store = new FsBlobStore({ root });
    let digest = "";
    putMs.push(
      await time(
        async () => void (digest = (await store.put(fs.createReadStream(src, { highWaterMark: MiB }))).digest),
      ),
    );
    catMs.push(await time(async () => void spawnSync("sh", ["-c", `cat '${src}' > /dev/null`])));
    getMs.push(
      await time(async () => {
        let n = 0;
        for await (const c of await store.get(digest)) n += (c as Buffer).length;
        if (n !== FS_SIZE) throw new Error(`read ${n} bytes`);
      }),
    );
    fs.rmSync(root, { recursive: true, force: true });
  }
  const line = (label: string, ms: number[], extra = "") =>
    console.log(
      `  ${label.padEnd(26)} ${fmt(median(ms)).padStart(8)} ms ${fmt(mbps(FS_SIZE, median(ms))).padStart(8)} MiB/s${extra}`,
    );
  const ratio = (base: number[], x: number[]) => fmt(median(base) / median(x));
  console.log(`\nfilesystem, ${FS_SIZE / MiB} MiB blob (median of ${RUNS}; ratio = baseline time / our time)`);
  line("cp (baseline)", cpMs);
  line("cp + sync (baseline)", cpSyncMs);
  line("sha256sum (baseline)", shaMs);
  line(
    "put (hash + fsync + link)",
    putMs,
    `   ratio vs cp ${ratio(cpMs, putMs)}x, vs cp+sync ${ratio(cpSyncMs, putMs)}x`,
  );
  line("cat > /dev/null (baseline)", catMs);
  line("get (stream, read all)", getMs, `   ratio vs cp ${ratio(cpMs, getMs)}x, vs cat ${ratio(catMs, getMs)}x`);

  // 2. S3
  const real = realS3FromEnv();
  const local = real ? undefined : await startS3rver();
  const conn = (real ?? local)!;
  const s3src = path.join(work, "s3blob.bin");
  makeFile(s3src, S3_SIZE);
  const plainMs: number[] = [];
  const multiMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const bucket = await createTestBucket(conn);
    try {
      plainMs.push(
        await time(async () => {
          await bucket.store.client.send(
            new PutObjectCommand({
              Bucket: bucket.bucket,
              Key: `plain-${i}`,
              Body: fs.createReadStream(s3src),
              ContentLength: S3_SIZE,
            }),
          );
        }),
      );
      multiMs.push(await time(async () => void (await bucket.store.put(fs.createReadStream(s3src)))));
    } finally {
      await bucket.destroy();
    }
  }
  await local?.stop();
  console.log(
    `\nS3 (${real ? `S3_ENDPOINT ${conn.endpoint}` : "in-process s3rver"}), ${S3_SIZE / MiB} MiB (median of ${RUNS})`,
  );
  console.log(
    `  PutObject (baseline)                 ${fmt(median(plainMs))} ms   ${fmt(mbps(S3_SIZE, median(plainMs)))} MiB/s`,
  );
  console.log(
    `  put (multipart to staging + copy)    ${fmt(median(multiMs))} ms   ${fmt(mbps(S3_SIZE, median(multiMs)))} MiB/s   ratio vs PutObject ${fmt(median(plainMs) / median(multiMs))}x`,
  );

  // 3. peak RSS of a 1 GiB put, in fresh processes
  const rss = (mode: string) => {
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", self, "--rss-child", mode, path.join(work, `rss-${mode}`)],
      { encoding: "utf8", maxBuffer: MiB },
    );
    if (r.status !== 0) throw new Error(`rss child ${mode} failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { peakRssBytes: number }).peakRssBytes;
  };
  const baseRss = rss("hash-only");
  const putRss = rss("put");
  console.log(`\npeak RSS, ${RSS_SIZE / MiB} MiB put into the filesystem store (one fresh process each)`);
  console.log(`  generate+hash only (baseline)  ${fmt(baseRss / MiB)} MiB`);
  console.log(
    `  put                            ${fmt(putRss / MiB)} MiB   (+${fmt((putRss - baseRss) / MiB)} MiB; limit 200 MiB: ${putRss < 200 * MiB ? "OK" : "OVER"})`,
  );
  if (putRss >= 200 * MiB) process.exitCode = 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
