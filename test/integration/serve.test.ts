// Serving approved versions to unmodified clients, through the running server: TF.js
// `loadGraphModel(..., {fromTFHub: true})` and the plain model.json URL, a stdlib-Python copy of
// tensorflow_hub's compressed resolver, and the pinned-download header semantics (ETag,
// Content-Digest, Range, If-None-Match, If-Range, HEAD). Run on the filesystem store, then on S3
// with the redirect on (and anonymous read off), then on S3 with the redirect off.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { startServer, runCommand, baseEnv, ROOT, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { startFakeUpstream, FAKE_MODELS, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { s3TestEnv } from "../helpers/s3.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { writeBigModel } from "../helpers/hostile-models.ts";

const BLAZE = "tensorflow/tfjs-model/blazeface/1/default";
const HALF = "google/half_plus_two";
const LITE = "tensorflow/lite-model/add4/1/default";
const MATMUL = "tensorflow/tfjs-model/matmul/1/default"; // left unapproved
const REJECTED = "google/times_three_float";
const BIG = "tensorflow/tfjs-model/big/1/default";

let up: FakeUpstream;
let work: string;
const cleanups: Array<() => Promise<unknown>> = [];

type Site = { server: RunningServer; admin: string; viewer: string; publisher: string; stop(): Promise<void> };

before(async () => {
  up = await startFakeUpstream();
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-serve-"));
  FAKE_MODELS[`${BIG}@1`] = { kind: "tfjs", dir: writeBigModel(path.join(work, "big"), 24), modelJson: "model.json" };
  await tf.setBackend("cpu");
});

after(async () => {
  delete FAKE_MODELS[`${BIG}@1`];
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await up?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const auth = (t: string) => ({ authorization: `Bearer ${t}`, "content-type": "application/json" });

async function token(env: Record<string, string | undefined>, email: string, scope: string) {
  const r = await runCommand(["bin/hubkeep.mjs", "token", "create", "--email", email, "--scope", scope], baseEnv(env));
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function waitStatus(server: RunningServer, admin: string, handle: string, statuses: string[]) {
  for (let i = 0; i < 1200; i++) {
    const r = await fetch(`${server.url}/api/v1/models/${handle}/versions/1`, { headers: auth(admin) });
    if (r.status === 200) {
      const v = (await r.json()) as { status: string; validation: { error?: string } | null };
      if (statuses.includes(v.status)) return v;
      if (["failed", "quarantined"].includes(v.status))
        throw new Error(`${handle} is ${v.status}: ${v.validation?.error}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${handle} never reached ${statuses}`);
}

/** A server with the test models mirrored, validated and decided. */
async function bringUp(name: string, extra: Record<string, string | undefined>): Promise<Site> {
  const t0 = Date.now();
  const lap = (what: string) => console.log(`[${name}] ${what} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const env: Record<string, string | undefined> = {
    HUBKEEP_DATA_DIR: path.join(work, `data-${name}`),
    HUBKEEP_UPSTREAM_TFHUB: up.base,
    HUBKEEP_UPSTREAM_HOSTS: `127.0.0.1:${up.port}`,
    HUBKEEP_ALLOW_PRIVATE_UPSTREAM: "true",
    HUBKEEP_ALLOWLIST: "google/*,tensorflow/*",
    ...extra,
  };
  let dropDb: (() => Promise<void>) | undefined;
  if (usingPostgres()) {
    const db = await createEmptyPostgresDatabase();
    env.DATABASE_URL = db.url;
    dropDb = db.drop;
  }
  const admin = await token(env, "admin@example.com", "admin");
  const viewer = await token(env, "viewer@example.com", "read");
  const publisher = await token(env, "pub@example.com", "publish");
  const server = await startServer(env);
  lap("server up");
  const site: Site = {
    server,
    admin,
    viewer,
    publisher,
    async stop() {
      await server.stop();
      await dropDb?.();
    },
  };
  cleanups.push(() => site.stop());
  for (const h of [BLAZE, HALF, LITE, MATMUL, REJECTED, BIG]) {
    const r = await fetch(`${server.url}/api/v1/mirrors`, {
      method: "POST",
      headers: auth(publisher),
      body: JSON.stringify({ url: `https://tfhub.dev/${h}/1` }),
    });
    assert.equal(r.status, 202, await r.clone().text());
  }
  for (const h of [BLAZE, HALF, LITE, MATMUL, REJECTED, BIG]) await waitStatus(server, admin, h, ["validated"]);
  lap("all validated");
  for (const h of [BLAZE, HALF, LITE, BIG]) {
    const r = await fetch(`${server.url}/api/v1/models/${h}/versions/1/approve`, {
      method: "POST",
      headers: auth(admin),
      body: JSON.stringify({ note: "ok for tests" }),
    });
    assert.equal(r.status, 200, await r.clone().text());
  }
  const rej = await fetch(`${server.url}/api/v1/models/${REJECTED}/versions/1/reject`, {
    method: "POST",
    headers: auth(admin),
    body: JSON.stringify({ reason: "not for us" }),
  });
  assert.equal(rej.status, 200, await rej.clone().text());
  return site;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** TF.js from the served URL, compared with the same fixture loaded from disk. */
async function checkTfjs(base: string, headers?: Record<string, string>) {
  const requestInit = headers ? { headers } : undefined;
  const served = await tf.loadGraphModel(`${base}/${BLAZE}/1`, { fromTFHub: true, requestInit });
  const plain = await tf.loadGraphModel(`${base}/${BLAZE}/1/model.json`, { requestInit });
  const json = JSON.parse(fs.readFileSync(fixturePath("human-blazeface", "blazeface.json"), "utf8"));
  const bin = fs.readFileSync(fixturePath("human-blazeface", "blazeface.bin"));
  const disk = await tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    }),
  );
  const x = tf.randomUniform([1, 256, 256, 3], -1, 1, "float32", 7);
  // The same outputs in the same order (a URL load names them "Identity", a memory load "Identity:0").
  const order = (m: tf.GraphModel) =>
    m.outputNodes.slice().sort((a, b) => a.replace(/:0$/, "").localeCompare(b.replace(/:0$/, "")));
  assert.deepEqual(
    order(served).map((n) => n.replace(/:0$/, "")),
    order(disk).map((n) => n.replace(/:0$/, "")),
  );
  const outs = [served, plain, disk].map((m) => m.execute(x, order(m)) as tf.Tensor[]);
  for (let k = 0; k < outs[2]!.length; k++) {
    const want = outs[2]![k]!.dataSync();
    for (const got of [outs[0]![k]!.dataSync(), outs[1]![k]!.dataSync()]) {
      assert.equal(got.length, want.length);
      let maxDiff = 0;
      for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
      assert.equal(maxDiff, 0, "served model predicts exactly what the fixture does");
    }
  }
  tf.dispose([x, ...outs.flat()]);
}

/** Runs the stdlib resolver. Asynchronously: an in-process S3 server must keep answering meanwhile. */
async function checkPython(base: string, tokenForBasic?: string) {
  const dest = fs.mkdtempSync(path.join(work, "py-"));
  const child = spawn("python3", [path.join(ROOT, "test/helpers/hub_resolve.py"), `${base}/${HALF}/1`, dest], {
    env: {
      PATH: process.env.PATH,
      ...(tokenForBasic ? { HUB_TOKEN: tokenForBasic } : {}),
    } as unknown as NodeJS.ProcessEnv,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const code = await new Promise<number | null>((r) => child.once("close", r));
  clearTimeout(timer);
  assert.equal(code, 0, stderr);
  const got = JSON.parse(stdout) as Record<string, string>;
  const root = fixturePath("hub-half_plus_two_v1_extracted");
  const want: Record<string, string> = {};
  for (const rel of [
    "saved_model.pb",
    "tfhub_module.pb",
    "variables/variables.data-00000-of-00001",
    "variables/variables.index",
  ])
    want[rel] = sha256(fs.readFileSync(path.join(root, rel)));
  assert.deepEqual(got, want);
}

function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Warms up, then drops `n` downloads of the big shard mid-way: the server's open descriptors must not grow. */
async function assertAbortsLeakNothing(site: Site, n: number): Promise<string> {
  const pid = site.server.child.pid!;
  const bigUrl = `${site.server.url}/${BIG}/1/group1-shard1of1.bin`;
  await abortMidway(bigUrl, 3);
  await new Promise((r) => setTimeout(r, 500));
  const before = openFds(pid);
  await abortMidway(bigUrl, n);
  await new Promise((r) => setTimeout(r, 1000));
  const after = openFds(pid);
  assert.ok(after <= before + 2, `file descriptors: ${before} before, ${after} after ${n} aborted downloads`);
  return bigUrl;
}

/** Starts downloads of a large file and drops each connection after the first bytes. */
async function abortMidway(url: string, n: number) {
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) => {
      const req = http.get(url, (res) => {
        assert.equal(res.statusCode, 200);
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" ? resolve() : reject(e)));
    });
  }
}

test("filesystem store: real clients, pinned headers, conditional and range requests, visibility", async () => {
  const site = await bringUp("fs", {});
  const base = site.server.url;
  await checkTfjs(base);
  await checkPython(base);

  // Pinned headers.
  const url = `${base}/${HALF}/1?tf-hub-format=compressed`;
  const full = await fetch(url);
  assert.equal(full.status, 200);
  const body = new Uint8Array(await full.arrayBuffer());
  const hex = sha256(body);
  assert.equal(full.headers.get("etag"), `"sha256:${hex}"`);
  assert.equal(full.headers.get("content-digest"), `sha-256=:${Buffer.from(hex, "hex").toString("base64")}:`);
  assert.equal(full.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.equal(full.headers.get("content-length"), String(body.length));
  assert.equal(full.headers.get("content-type"), "application/gzip");
  assert.equal(full.headers.get("content-disposition"), 'attachment; filename="half_plus_two_1.tar.gz"');
  assert.equal(full.headers.get("accept-ranges"), "bytes");
  assert.deepEqual(body.subarray(0, 2), Uint8Array.from([0x1f, 0x8b]));
  const etag = full.headers.get("etag")!;

  const head = await fetch(url, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(body.length));
  assert.equal(head.headers.get("etag"), etag);
  assert.equal((await head.arrayBuffer()).byteLength, 0);

  const part = await fetch(url, { headers: { range: "bytes=10-109" } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get("content-range"), `bytes 10-109/${body.length}`);
  assert.equal(part.headers.get("content-length"), "100");
  assert.deepEqual(new Uint8Array(await part.arrayBuffer()), body.subarray(10, 110));
  const suffix = await fetch(url, { headers: { range: "bytes=-5" } });
  assert.equal(suffix.status, 206);
  assert.deepEqual(new Uint8Array(await suffix.arrayBuffer()), body.subarray(body.length - 5));
  const open = await fetch(url, { headers: { range: `bytes=${body.length - 3}-` } });
  assert.deepEqual(new Uint8Array(await open.arrayBuffer()), body.subarray(body.length - 3));
  const unsat = await fetch(url, { headers: { range: `bytes=${body.length}-` } });
  assert.equal(unsat.status, 416);
  assert.equal(unsat.headers.get("content-range"), `bytes */${body.length}`);
  for (const bad of ["bytes=abc", "items=0-1", "bytes=5-1", "bytes=0-1,4-5"]) {
    const r = await fetch(url, { headers: { range: bad } });
    assert.equal(r.status, 200, `${bad}: the whole body, as HTTP allows`);
    assert.equal((await r.arrayBuffer()).byteLength, body.length);
  }
  const cached = await fetch(url, { headers: { "if-none-match": etag } });
  assert.equal(cached.status, 304);
  assert.equal(cached.headers.get("etag"), etag);
  assert.equal(
    (await fetch(url, { headers: { "if-none-match": `"sha256:${"0".repeat(64)}", W/${etag}` } })).status,
    304,
  );
  assert.equal((await fetch(url, { headers: { "if-none-match": `"sha256:${"0".repeat(64)}"` } })).status, 200);
  const ifRange = await fetch(url, { headers: { range: "bytes=0-9", "if-range": etag } });
  assert.equal(ifRange.status, 206);
  const stale = await fetch(url, { headers: { range: "bytes=0-9", "if-range": '"sha256:old"' } });
  assert.equal(stale.status, 200, "a stale If-Range gets the whole body");
  assert.equal((await stale.arrayBuffer()).byteLength, body.length);

  // Unversioned -> latest approved, not cached for long.
  const latest = await fetch(`${base}/${HALF}?tf-hub-format=compressed`, { redirect: "manual" });
  assert.equal(latest.status, 302);
  assert.equal(latest.headers.get("location"), `/${HALF}/1?tf-hub-format=compressed`);
  assert.equal(latest.headers.get("cache-control"), "no-cache");

  // TF.js and TFLite forms.
  const mj = await fetch(`${base}/${BLAZE}/1/model.json?tfjs-format=file`);
  assert.equal(mj.status, 200);
  assert.equal(mj.headers.get("content-type"), "application/json");
  assert.match(mj.headers.get("etag")!, /^"sha256:[0-9a-f]{64}"$/);
  assert.equal((await fetch(`${base}/${BLAZE}/1/blazeface.bin`)).status, 200);
  assert.equal((await fetch(`${base}/${BLAZE}/1/blazeface.bin?tfjs-format=file`)).status, 200);
  const tgz = await fetch(`${base}/${BLAZE}/1?tfjs-format=compressed`);
  assert.equal(tgz.status, 200);
  assert.equal(tgz.headers.get("content-type"), "application/gzip");
  const lite = await fetch(`${base}/${LITE}/1?lite-format=tflite`);
  assert.equal(lite.status, 200);
  assert.deepEqual(
    new Uint8Array(await lite.arrayBuffer()),
    new Uint8Array(fs.readFileSync(fixturePath("tfjs-tflite-add4", "add4.tflite"))),
  );

  // Bad input.
  const unc = await fetch(`${base}/${HALF}/1?tf-hub-format=uncompressed`);
  assert.equal(unc.status, 400);
  assert.match(await unc.text(), /only|compressed/);
  const noLite = await fetch(`${base}/${HALF}/1?lite-format=tflite`);
  assert.equal(noLite.status, 404);
  assert.match(await noLite.text(), /has no TFLite file; it has: tf-hub-format=compressed/);
  const unknown = await fetch(`${base}/google/nope/1?tf-hub-format=compressed`);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal((await fetch(`${base}/${HALF}/7?tf-hub-format=compressed`)).status, 404);
  assert.equal((await fetch(`${base}/${MATMUL}/1/model.json`)).status, 404, "unapproved: 404");
  assert.equal(
    (await fetch(`${base}/${MATMUL}/1/model.json`, { headers: auth(site.viewer) })).status,
    404,
    "unapproved: 404 to a viewer",
  );
  assert.equal(
    (await fetch(`${base}/${MATMUL}/1/model.json`, { headers: auth(site.admin) })).status,
    200,
    "admins can fetch what they review",
  );
  assert.equal((await fetch(`${base}/${REJECTED}/1?tf-hub-format=compressed`)).status, 404, "rejected: 404");

  // Blobs by digest.
  const blob = await fetch(`${base}/api/v1/blobs/sha256:${hex}`);
  assert.equal(blob.status, 200);
  assert.equal(blob.headers.get("etag"), etag);
  assert.equal(sha256(new Uint8Array(await blob.arrayBuffer())), hex);
  assert.equal((await fetch(`${base}/api/v1/blobs/sha256:abc`)).status, 400);
  assert.equal((await fetch(`${base}/api/v1/blobs/md5:${"0".repeat(32)}`)).status, 400);
  assert.equal((await fetch(`${base}/api/v1/blobs/sha256:${"0".repeat(64)}`)).status, 404);

  // A browser on the same path without a format query gets the model page.
  const page = await fetch(`${base}/${HALF}/1`, { headers: { accept: "text/html" } });
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /text\/html/);
  const html = await page.text();
  assert.match(html, /google\/half_plus_two/);
  assert.match(
    html,
    new RegExp(`:${new URL(base).port}/google/half_plus_two/1&quot;`),
    "the snippet carries the pinned URL",
  );
  assert.match(html, new RegExp(hex), "the page shows the digest to verify against");

  // Downloads are counted (batched, off the hot path).
  let downloads = 0;
  for (let i = 0; i < 100 && downloads === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const v = (await (
      await fetch(`${base}/api/v1/models/${HALF}/versions/1`, { headers: auth(site.admin) })
    ).json()) as { downloads: number };
    downloads = v.downloads;
  }
  assert.ok(downloads >= 5, `downloads counted: ${downloads}`);

  // Clients that disconnect mid-download leave no descriptors behind.
  const bigUrl = await assertAbortsLeakNothing(site, 30);
  const whole = await fetch(bigUrl);
  assert.equal((await whole.arrayBuffer()).byteLength, 24 * 1024 * 1024, "the server still serves after the aborts");
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), { status: "ready", db: "ok", store: "ok" });

  // /metrics counts what was served, by format (open here: no HUBKEEP_METRICS_TOKEN).
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const sample = (name: string, format: string) =>
    Number(new RegExp(`^${name}\\{format="${format}"\\} (\\S+)$`, "m").exec(metrics)?.[1] ?? "0");
  for (const format of ["tf1_hub", "tfjs_graph", "tflite", "blob"]) {
    assert.ok(sample("hubkeep_downloads_total", format) >= 1, `${format} downloads:\n${metrics}`);
    assert.ok(sample("hubkeep_served_bytes_total", format) > 0, `${format} bytes`);
  }
  assert.match(
    metrics,
    /^hubkeep_http_requests_total\{route="\/\{handle\}\/\{n\}\/\{file\}",method="GET",status="200"\} \d+$/m,
  );

  // SIGTERM drains: a download in flight (its client reading slowly) completes byte for byte, new
  // connections are refused, and the process exits 0.
  const wholeBytes = new Uint8Array(await (await fetch(bigUrl)).arrayBuffer());
  const slow = slowDownload(bigUrl);
  await slow.started;
  site.server.child.kill("SIGTERM");
  await waitFor(() => /SIGTERM: draining \(1 request\(s\) in flight/.test(site.server.output()), 10_000);
  await assert.rejects(fetch(`${base}/healthz`), "a new connection is refused while draining");
  const drainedBody = await slow.done;
  assert.equal(drainedBody.length, wholeBytes.length);
  assert.equal(sha256(drainedBody), sha256(wholeBytes), "the in-flight download completed byte for byte");
  const code = await new Promise<number | null>((r) =>
    site.server.child.exitCode !== null ? r(site.server.child.exitCode) : site.server.child.once("exit", r),
  );
  assert.equal(code, 0, site.server.output());
  await site.stop();
});

async function waitFor(cond: () => boolean, ms: number) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Downloads `url` at about 8 MiB/s, so that it is still in flight seconds later. */
function slowDownload(url: string): { started: Promise<void>; done: Promise<Uint8Array> } {
  let onStart!: () => void;
  const started = new Promise<void>((r) => (onStart = r));
  const done = new Promise<Uint8Array>((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let first = true;
      res.on("data", (c: Buffer) => {
        chunks.push(c);
        if (first) {
          first = false;
          onStart();
        }
        res.pause();
        setTimeout(() => res.resume(), Math.ceil(c.length / (8 * 1024)));
      });
      res.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  return { started, done };
}

test("S3 with the redirect on, anonymous read off: 302 to a presigned URL, both clients with a token", async () => {
  const s3 = await s3TestEnv();
  cleanups.push(() => s3.cleanup());
  const site = await bringUp("s3-redirect", {
    ...s3.env,
    HUBKEEP_S3_REDIRECT: "true",
    HUBKEEP_ANONYMOUS_READ: "false",
  });
  const base = site.server.url;
  const url = `${base}/${HALF}/1?tf-hub-format=compressed`;
  const anon = await fetch(url);
  assert.equal(anon.status, 401);
  assert.match(anon.headers.get("www-authenticate")!, /Basic realm="hubkeep"/);
  const redirect = await fetch(url, { headers: auth(site.viewer), redirect: "manual" });
  assert.equal(redirect.status, 302);
  const location = redirect.headers.get("location")!;
  assert.match(location, /X-Amz-Signature=/);
  assert.equal(new URL(location).hostname, "127.0.0.1");
  const viaS3 = await fetch(url, { headers: auth(site.viewer) });
  assert.equal(viaS3.status, 200);
  const bytes = new Uint8Array(await viaS3.arrayBuffer());
  assert.equal(`"sha256:${sha256(bytes)}"`, redirect.headers.get("etag"));
  const ranged = await fetch(url, { headers: { ...auth(site.viewer), range: "bytes=0-9" } });
  assert.equal(ranged.status, 206, "the Range header follows the redirect to S3");
  assert.deepEqual(new Uint8Array(await ranged.arrayBuffer()), bytes.subarray(0, 10));
  const head = await fetch(url, { method: "HEAD", headers: auth(site.viewer) });
  assert.equal(head.status, 200, "HEAD is answered by the app (a presigned URL is GET-only)");
  assert.equal(head.headers.get("content-length"), String(bytes.length));
  assert.equal(
    head.headers.get("cache-control"),
    "private, max-age=31536000, immutable",
    "authenticated downloads are not for shared caches",
  );
  await checkTfjs(base, { authorization: `Bearer ${site.viewer}` });
  await checkPython(base, site.viewer);
  await site.stop();
});

test("S3 with the redirect off: streamed by the app with ranges passed through", async () => {
  const s3 = await s3TestEnv();
  cleanups.push(() => s3.cleanup());
  const site = await bringUp("s3-direct", { ...s3.env, HUBKEEP_S3_REDIRECT: "false" });
  const base = site.server.url;
  const url = `${base}/${HALF}/1?tf-hub-format=compressed`;
  const full = await fetch(url, { redirect: "manual" });
  assert.equal(full.status, 200);
  const bytes = new Uint8Array(await full.arrayBuffer());
  assert.equal(full.headers.get("etag"), `"sha256:${sha256(bytes)}"`);
  const part = await fetch(url, { headers: { range: "bytes=100-199" } });
  assert.equal(part.status, 206);
  assert.deepEqual(new Uint8Array(await part.arrayBuffer()), bytes.subarray(100, 200));
  await checkTfjs(base);
  await checkPython(base);
  await assertAbortsLeakNothing(site, 20); // aborted S3 streams release their sockets
  await site.stop();
});
