// Blob store conformance: one suite, run against every driver — the filesystem (fresh temp dir), S3
// on s3rver (a child process), and the real S3 server at S3_ENDPOINT when set (fresh bucket per run).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHash, randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import v8 from "node:v8";
import vm from "node:vm";
import {
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import {
  BlobNotFoundError,
  DigestMismatchError,
  FsBlobStore,
  InvalidDigestError,
  InvalidRangeError,
  S3BlobStore,
  SizeMismatchError,
  SourceStreamError,
  StoreUnavailableError,
  computeDigest,
  createBlobStoreFromUrl,
  isDigest,
  parseDigest,
  type BlobStore,
} from "../../lib/storage/index.ts";
import { STAGING_DIR, blobPath, digestFromBlobPath } from "../../lib/storage/layout.ts";
import { formatContentDisposition } from "../../lib/hub/content-disposition.ts";
import {
  createTestBucket,
  listMultipartUploads,
  realS3FromEnv,
  startS3rver,
  type S3Connection,
} from "../helpers/s3.ts";

const MiB = 1024 ** 2;
const EMPTY_DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

type Harness = {
  store: BlobStore;
  /** Staged uploads still present; every put must leave none, whatever its outcome. */
  stagingLeftovers(): Promise<string[]>;
  /** Incomplete multipart uploads, where the server can list them (not s3rver). */
  multipartLeftovers?: () => Promise<string[]>;
  /** Stores of this driver that cannot work, for check(); `close` frees what they needed. */
  brokenStores(): Promise<{ stores: BlobStore[]; close(): Promise<void> }>;
  /** Leaves what a crashed put would (a staged object; on S3 also an incomplete multipart upload); returns the ids. */
  plantStaging(): Promise<string[]>;
  /** Whether concurrent puts of one digest must report exactly one `created`. */
  exclusiveCreate: boolean;
  teardown(): Promise<void>;
};

// ---- byte sources ----

/** Deterministic pseudo-random bytes (AES-128-CTR keystream of `seed`), produced chunk by chunk. */
function* pseudoRandom(
  seed: string,
  total: number,
  chunkSize = MiB,
  counter?: { produced: number },
): Generator<Buffer> {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(chunkSize);
  for (let left = total; left > 0;) {
    const n = Math.min(chunkSize, left);
    left -= n;
    if (counter) counter.produced += n;
    yield cipher.update(n === chunkSize ? zeros : zeros.subarray(0, n));
  }
}

async function* failAfter(bytes: number, error: Error): AsyncGenerator<Buffer> {
  yield* pseudoRandom("failing", bytes);
  await new Promise((r) => setTimeout(r, 5));
  throw error;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function digestOfStream(stream: AsyncIterable<Uint8Array>): Promise<string> {
  const h = createHash("sha256");
  for await (const c of stream) h.update(c);
  return `sha256:${h.digest("hex")}`;
}

// A GC before each sample makes the figures mean "memory held", not "garbage not yet collected"
// (200 MB of chunks flow through; without it RSS growth mostly measures when V8 chose to collect).
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as (() => void) | undefined;

/** Samples every 50 ms; stop() returns the peak growth of RSS and of heap + ArrayBuffers. */
function sampleMemory(): { stop(): { rss: number; held: number } } {
  const held = (m: NodeJS.MemoryUsage) => m.heapUsed + m.arrayBuffers;
  gc?.();
  const base = process.memoryUsage();
  const peak = { rss: 0, held: 0 };
  const sample = () => {
    gc?.();
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss - base.rss);
    peak.held = Math.max(peak.held, held(m) - held(base));
  };
  const timer = setInterval(sample, 50);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** A byte stream like a socket's (64 KiB buffer) over a generator. */
const streamOf = (chunks: Iterable<Buffer>) => Readable.from(chunks, { objectMode: false, highWaterMark: 64 * 1024 });

async function rejectsWith(
  p: Promise<unknown>,
  cls: abstract new (...args: never[]) => Error,
  check?: (err: never) => void,
): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(
      err instanceof cls,
      `expected ${cls.name}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    );
    check?.(err as never);
    return true;
  });
}

async function allDigests(store: BlobStore): Promise<Set<string>> {
  const seen = new Set<string>();
  for await (const b of store.list()) seen.add(b.digest);
  return seen;
}

// ---- the suite ----

function blobStoreConformance(name: string, setup: () => Promise<Harness>): void {
  describe(name, () => {
    let h: Harness;
    let store: BlobStore;

    before(async () => {
      h = await setup();
      store = h.store;
    });
    after(async () => {
      await h?.teardown();
    });

    async function assertClean(): Promise<void> {
      assert.deepEqual(await h.stagingLeftovers(), [], "no staged upload left behind");
      if (h.multipartLeftovers)
        assert.deepEqual(await h.multipartLeftovers(), [], "no incomplete multipart upload left behind");
    }

    test("put, stat, get and delete round-trip the bytes", async () => {
      const bytes = randomBytes(300_000);
      const digest = computeDigest(bytes);
      const put = await store.put(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
      assert.deepEqual(put, { digest, size: bytes.length, created: true });
      assert.deepEqual(await store.stat(digest), { digest, size: bytes.length });
      assert.ok((await readAll(await store.get(digest))).equals(bytes));

      const again = await store.put(Readable.from([bytes]), { expectedDigest: digest, expectedSize: bytes.length });
      assert.deepEqual(
        again,
        { digest, size: bytes.length, created: false },
        "committing an existing digest is a no-op",
      );

      await store.delete(digest);
      assert.equal(await store.stat(digest), null);
      await rejectsWith(store.get(digest), BlobNotFoundError, (err: BlobNotFoundError) =>
        assert.equal(err.code, "not_found"),
      );
      await store.delete(digest); // idempotent
      await assertClean();
    });

    test("put accepts any async iterable of bytes, and the empty blob", async () => {
      async function* parts() {
        yield new TextEncoder().encode("hello, ");
        yield Buffer.from("world");
      }
      const put = await store.put(parts());
      assert.deepEqual(put, { digest: computeDigest("hello, world"), size: 12, created: true });
      assert.equal((await readAll(await store.get(put.digest))).toString(), "hello, world");

      const empty = await store.put(Readable.from([]), { expectedSize: 0, expectedDigest: EMPTY_DIGEST });
      assert.deepEqual(empty, { digest: EMPTY_DIGEST, size: 0, created: true });
      assert.equal((await readAll(await store.get(EMPTY_DIGEST))).length, 0);
      await rejectsWith(store.get(EMPTY_DIGEST, { range: { start: 0, end: 0 } }), InvalidRangeError);
      await store.delete(put.digest);
      await store.delete(EMPTY_DIGEST);
    });

    test("list yields stored blobs with size and time, and not deleted ones", async () => {
      const a = await store.put(Readable.from([Buffer.from("list-a")]));
      const b = await store.put(Readable.from([Buffer.from("list-bb")]));
      const found = new Map<string, { size: number; lastModified: Date }>();
      for await (const item of store.list()) {
        assert.ok(isDigest(item.digest));
        found.set(item.digest, item);
      }
      assert.equal(found.get(a.digest)?.size, 6);
      assert.equal(found.get(b.digest)?.size, 7);
      const age = Date.now() - found.get(a.digest)!.lastModified.getTime();
      assert.ok(age > -60_000 && age < 600_000, `lastModified is recent (${age} ms ago)`);
      await store.delete(a.digest);
      const after = await allDigests(store);
      assert.ok(!after.has(a.digest) && after.has(b.digest));
      await store.delete(b.digest);
    });

    test("ranges: first byte, middle, last byte, whole; out of range is a typed error", async () => {
      const bytes = randomBytes(1000);
      const { digest } = await store.put(Readable.from([bytes]));
      const read = async (start: number, end: number) => readAll(await store.get(digest, { range: { start, end } }));
      assert.deepEqual(await read(0, 0), bytes.subarray(0, 1));
      assert.deepEqual(await read(100, 199), bytes.subarray(100, 200));
      assert.deepEqual(await read(999, 999), bytes.subarray(999));
      assert.deepEqual(await read(0, 999), bytes);
      for (const range of [
        { start: 1000, end: 1000 },
        { start: 500, end: 1000 },
        { start: 5000, end: 6000 },
        { start: 10, end: 9 },
        { start: -1, end: 3 },
        { start: 0.5, end: 3 },
      ]) {
        await rejectsWith(store.get(digest, { range }), InvalidRangeError, (err: InvalidRangeError) => {
          assert.equal(err.code, "range_not_satisfiable");
          if (range.start >= 0 && range.start <= range.end && Number.isInteger(range.start))
            assert.equal(err.size, 1000);
        });
      }
      const missing = computeDigest("not stored");
      await rejectsWith(store.get(missing, { range: { start: 0, end: 0 } }), BlobNotFoundError);
      await store.delete(digest);
    });

    test("malformed digests are rejected before touching the store", async () => {
      for (const bad of [
        "sha256:ABC",
        "../../etc/passwd",
        `sha256:${"a".repeat(63)}`,
        `sha512:${"a".repeat(64)}`,
        `sha256:${"A".repeat(64)}`,
      ]) {
        await rejectsWith(store.stat(bad), InvalidDigestError);
        await rejectsWith(store.get(bad), InvalidDigestError);
        await rejectsWith(store.delete(bad), InvalidDigestError);
      }
      let pulled = false;
      const source = (async function* () {
        pulled = true;
        yield Buffer.from("x");
      })();
      await rejectsWith(store.put(source, { expectedDigest: "sha256:nope" }), InvalidDigestError);
      assert.equal(pulled, false);
    });

    test("an expected-digest mismatch commits nothing", async () => {
      const bytes = randomBytes(200_000);
      const actual = computeDigest(bytes);
      const claimed = computeDigest("something else");
      await rejectsWith(
        store.put(Readable.from([bytes]), { expectedDigest: claimed }),
        DigestMismatchError,
        (err: DigestMismatchError) => {
          assert.equal(err.code, "digest_mismatch");
          assert.equal(err.expected, claimed);
          assert.equal(err.actual, actual);
        },
      );
      assert.equal(await store.stat(actual), null);
      assert.equal(await store.stat(claimed), null);
      await assertClean();
    });

    test("an expected-size mismatch commits nothing (short stream, and long stream cut off early)", async () => {
      const bytes = randomBytes(100_000);
      await rejectsWith(
        store.put(Readable.from([bytes]), { expectedSize: bytes.length + 1 }),
        SizeMismatchError,
        (err: SizeMismatchError) => {
          assert.equal(err.expected, bytes.length + 1);
          assert.equal(err.actual, bytes.length);
        },
      );
      assert.equal(await store.stat(computeDigest(bytes)), null);

      // 40 MiB offered for a declared 1 MiB: fails once it overflows, without reading the rest.
      const counter = { produced: 0 };
      await rejectsWith(
        store.put(streamOf(pseudoRandom("too-long", 40 * MiB, 256 * 1024, counter)), { expectedSize: MiB }),
        SizeMismatchError,
        (err: SizeMismatchError) => assert.equal(err.actual, undefined),
      );
      assert.ok(counter.produced < 10 * MiB, `read ${counter.produced} bytes of a 40 MiB source`);
      await assertClean();
    });

    test("a source that fails mid-way commits nothing and throws SourceStreamError", async () => {
      const before = await allDigests(store);
      // 20 MiB first, so that S3 drivers are already in a multipart upload when it fails.
      await rejectsWith(
        store.put(failAfter(20 * MiB, new Error("connection reset (simulated)"))),
        SourceStreamError,
        (err: SourceStreamError) => {
          assert.match(String((err.cause as Error).message), /connection reset \(simulated\)/);
        },
      );
      const small = new Readable({ read() {} });
      small.push(Buffer.from("partial"));
      setTimeout(() => small.destroy(new Error("socket hang up (simulated)")), 10);
      await rejectsWith(store.put(small, { expectedSize: 1000 }), SourceStreamError);
      assert.equal(small.destroyed, true);
      assert.equal(await store.stat(computeDigest("partial")), null);
      assert.deepEqual([...(await allDigests(store))].sort(), [...before].sort());
      await assertClean();
    });

    test("10 concurrent puts of the same bytes agree on one digest", async (t) => {
      const bytes = randomBytes(2 * MiB + 3);
      const digest = computeDigest(bytes);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.put(Readable.from(i % 2 ? [bytes] : [bytes.subarray(0, 7), bytes.subarray(7)])),
        ),
      );
      for (const r of results) assert.deepEqual({ digest: r.digest, size: r.size }, { digest, size: bytes.length });
      const created = results.filter((r) => r.created).length;
      t.diagnostic(`${created} of 10 reported created (atomic create-if-absent: ${h.exclusiveCreate})`);
      if (h.exclusiveCreate) assert.equal(created, 1, "exactly one put created the blob");
      else assert.ok(created >= 1, "at least one put created the blob");
      assert.ok((await readAll(await store.get(digest))).equals(bytes));
      await assertClean();
      await store.delete(digest);
    });

    test("a 200 MB stream is stored and read back without buffering it", { timeout: 120_000 }, async (t) => {
      const total = 200 * 1000 * 1000;
      const expected = await digestOfStream(Readable.from(pseudoRandom("large", total)));

      const writing = sampleMemory();
      const put = await store.put(streamOf(pseudoRandom("large", total)), {
        expectedSize: total,
        expectedDigest: expected,
      });
      const write = writing.stop();
      assert.deepEqual(put, { digest: expected, size: total, created: true });

      const reading = sampleMemory();
      assert.equal(await digestOfStream(await store.get(put.digest)), expected);
      const read = reading.stop();
      const tail = await readAll(await store.get(put.digest, { range: { start: total - 10, end: total - 1 } }));
      let last: Buffer = Buffer.alloc(0);
      for (const chunk of pseudoRandom("large", total)) last = chunk;
      assert.deepEqual(tail, last.subarray(-10));

      const mb = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
      t.diagnostic(
        `growth: put RSS ${mb(write.rss)}, held ${mb(write.held)}; get RSS ${mb(read.rss)}, held ${mb(read.held)}`,
      );
      for (const [what, bytes] of [
        ["put RSS", write.rss],
        ["put held", write.held],
        ["get RSS", read.rss],
        ["get held", read.held],
      ] as const) {
        assert.ok(bytes < 100 * MiB, `${what} grew by ${mb(bytes)} for a 200 MB blob`);
      }
      await store.delete(put.digest);
      await assertClean();
    });

    test("presignGet gives a loopback URL serving the bytes (S3 only)", async (t) => {
      if (!store.presignGet) {
        assert.equal(store.kind, "file");
        t.skip("the filesystem driver has no presigned URLs; downloads are streamed");
        return;
      }
      const bytes = randomBytes(70_000);
      const { digest } = await store.put(Readable.from([bytes]));
      const url = await store.presignGet(digest, {
        contentDisposition: formatContentDisposition("attachment", "model v1.tar.gz"),
        ttlSeconds: 60,
      });
      assert.ok(["127.0.0.1", "localhost", "[::1]"].includes(new URL(url).hostname), url);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
      assert.match(res.headers.get("content-disposition") ?? "", /^attachment; filename="model v1\.tar\.gz"/);
      const plain = await fetch(await store.presignGet(digest, { ttlSeconds: 60 }));
      assert.equal(plain.status, 200);
      assert.equal((await plain.arrayBuffer()).byteLength, bytes.length);
      await store.delete(digest);
    });

    test("listStaging and deleteStaging clear the leftovers of crashed puts", async () => {
      assert.ok(store.listStaging && store.deleteStaging);
      const planted = await h.plantStaging();
      const listed = new Map<string, { size: number; lastModified: Date }>();
      for await (const s of store.listStaging()) listed.set(s.id, s);
      for (const id of planted) assert.ok(listed.has(id), `${id} is listed`);
      assert.ok(![...(await allDigests(store))].some((d) => planted.includes(d)), "staged uploads are not blobs");
      for (const id of listed.keys()) await store.deleteStaging(id);
      await store.deleteStaging(planted[0]!); // idempotent
      await rejectsWith(store.deleteStaging("../escape"), Error);
      await assertClean();
    });

    test(
      "check() passes on a working store and fails fast, naming the store, on broken ones",
      { timeout: 30_000 },
      async () => {
        await store.check();
        const broken = await h.brokenStores();
        try {
          for (const bad of broken.stores) {
            const t0 = Date.now();
            await rejectsWith(bad.check(), StoreUnavailableError, (err: StoreUnavailableError) => {
              assert.equal(err.code, "service_unavailable");
              assert.ok(err.message.startsWith(bad.describe), err.message);
            });
            assert.ok(Date.now() - t0 < 5000, `${bad.describe}: check took ${Date.now() - t0} ms`);
          }
        } finally {
          await broken.close();
        }
      },
    );
  });
}

// ---- drivers ----

blobStoreConformance("filesystem driver", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-blobs-"));
  const root = path.join(dir, "store");
  const store = createBlobStoreFromUrl(`file://${root}`);
  await store.check(); // creates the layout in a fresh directory
  return {
    store,
    async stagingLeftovers() {
      return fs.readdirSync(path.join(root, ...STAGING_DIR.split("/")));
    },
    async brokenStores() {
      const file = path.join(dir, "a-file");
      fs.writeFileSync(file, "not a directory");
      return { stores: [new FsBlobStore({ root: path.join(file, "blobs") })], close: async () => {} };
    },
    async plantStaging() {
      const id = randomUUID();
      fs.writeFileSync(path.join(root, ...STAGING_DIR.split("/"), id), "half an upload");
      return [id];
    },
    exclusiveCreate: true,
    async teardown() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

/** A harness on a fresh bucket of `conn` (blobs under a two-level key prefix); `stop` ends the server. */
async function s3Harness(conn: S3Connection, stop?: () => Promise<void>): Promise<Harness> {
  const bucket = await createTestBucket(conn, { prefix: "mirror/blobs" });
  const { store } = bucket;
  const client = store.client;
  const multipart = await listMultipartUploads(client, bucket.bucket).then(
    () => true,
    () => false,
  );
  return {
    store,
    async stagingLeftovers() {
      const res = await client.send(
        new ListObjectsV2Command({ Bucket: bucket.bucket, Prefix: store.key(STAGING_DIR) + "/" }),
      );
      return (res.Contents ?? []).map((o) => o.Key!);
    },
    multipartLeftovers: multipart
      ? async () => (await listMultipartUploads(client, bucket.bucket)).map((u) => u.key)
      : undefined,
    async brokenStores() {
      // A server that accepts connections and never answers: check() must give up on its own.
      const silent = net.createServer(() => {});
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
      const closedPort = await new Promise<number>((r) => {
        const s = net.createServer().listen(0, "127.0.0.1", () => {
          const { port } = s.address() as net.AddressInfo;
          s.close(() => r(port));
        });
      });
      const stores = [
        new S3BlobStore({ ...conn, url: `s3://${bucket.bucket}-missing/x` }),
        new S3BlobStore({ ...conn, url: `s3://${bucket.bucket}/x`, endpoint: `http://127.0.0.1:${closedPort}` }),
        new S3BlobStore({
          ...conn,
          url: `s3://${bucket.bucket}/x`,
          endpoint: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`,
        }),
      ];
      return {
        stores,
        async close() {
          for (const s of stores) s.destroy();
          silent.close();
        },
      };
    },
    async plantStaging() {
      const ids = [randomUUID()];
      await client.send(
        new PutObjectCommand({
          Bucket: bucket.bucket,
          Key: store.key(`${STAGING_DIR}/${ids[0]}`),
          Body: "half an upload",
        }),
      );
      if (multipart) {
        ids.push(randomUUID());
        await client.send(
          new CreateMultipartUploadCommand({ Bucket: bucket.bucket, Key: store.key(`${STAGING_DIR}/${ids[1]}`) }),
        );
      }
      return ids;
    },
    // Exactly one only where the server refuses a conditional copy onto an existing key.
    exclusiveCreate: await supportsConditionalCopy(conn, bucket.bucket),
    async teardown() {
      try {
        await bucket.destroy();
      } finally {
        await stop?.();
      }
    },
  };
}

/** Probes the server: does CopyObject with If-None-Match: * onto an existing key answer 412? */
async function supportsConditionalCopy(conn: S3Connection, bucketName: string): Promise<boolean> {
  const probe = new S3BlobStore({ ...conn, url: `s3://${bucketName}` });
  try {
    await probe.client.send(new PutObjectCommand({ Bucket: bucketName, Key: "probe/a", Body: "a" }));
    await probe.client.send(new PutObjectCommand({ Bucket: bucketName, Key: "probe/b", Body: "b" }));
    await probe.client.send(
      new CopyObjectCommand({
        Bucket: bucketName,
        Key: "probe/b",
        CopySource: `${bucketName}/probe/a`,
        IfNoneMatch: "*",
      }),
    );
    return false;
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412;
  } finally {
    probe.destroy();
  }
}

blobStoreConformance("S3 driver on s3rver", async () => {
  const server = await startS3rver();
  return s3Harness(server, () => server.stop());
});

const realS3 = realS3FromEnv();
if (realS3) {
  blobStoreConformance(`S3 driver on ${realS3.endpoint} (S3_ENDPOINT)`, () => s3Harness(realS3));

  describe(`S3 driver on ${realS3.endpoint}: blobs above the CopyObject limit`, () => {
    test("are committed with UploadPartCopy (limit lowered to 5 MiB for the test)", { timeout: 60_000 }, async () => {
      const bucket = await createTestBucket(realS3, { multipartCopyThreshold: 5 * MiB, copyPartSize: 5 * MiB });
      try {
        const total = 12 * MiB + 12345;
        const expected = await digestOfStream(Readable.from(pseudoRandom("copy-parts", total)));
        const put = await bucket.store.put(Readable.from(pseudoRandom("copy-parts", total)));
        assert.deepEqual(put, { digest: expected, size: total, created: true });
        assert.equal(await digestOfStream(await bucket.store.get(put.digest)), expected);
        const again = await bucket.store.put(Readable.from(pseudoRandom("copy-parts", total)));
        assert.equal(again.created, false);
        assert.deepEqual(await listMultipartUploads(bucket.store.client, bucket.bucket), []);
      } finally {
        await bucket.destroy();
      }
    });
  });
}

// ---- driver-independent pieces ----

describe("layout, digests and the driver switch", () => {
  test("digests are sha256:<64 lowercase hex>", () => {
    assert.equal(isDigest(EMPTY_DIGEST), true);
    assert.equal(isDigest(EMPTY_DIGEST.toUpperCase()), false);
    assert.deepEqual(parseDigest(EMPTY_DIGEST).hex, EMPTY_DIGEST.slice(7));
    assert.throws(() => parseDigest("sha256:xyz"), InvalidDigestError);
    assert.equal(computeDigest(""), EMPTY_DIGEST);
  });

  test("the v1 layout and its inverse", () => {
    const path1 = blobPath(EMPTY_DIGEST);
    assert.equal(path1, `v1/blobs/sha256/e3/${EMPTY_DIGEST.slice(7)}`);
    assert.equal(digestFromBlobPath(path1), EMPTY_DIGEST);
    assert.equal(digestFromBlobPath(`v1/blobs/sha256/ff/${EMPTY_DIGEST.slice(7)}`), null);
    assert.equal(digestFromBlobPath(`v1/staging/${EMPTY_DIGEST.slice(7)}`), null);
  });

  test("createBlobStoreFromUrl switches on the scheme", () => {
    const fsStore = createBlobStoreFromUrl("file:///var/lib/hubkeep/blobs");
    assert.ok(fsStore instanceof FsBlobStore);
    assert.equal(fsStore.root, "/var/lib/hubkeep/blobs");
    const s3 = createBlobStoreFromUrl("s3://my-bucket/some/prefix/", {
      region: "us-east-1",
      forcePathStyle: true,
      endpoint: "http://127.0.0.1:1",
    });
    assert.ok(s3 instanceof S3BlobStore);
    assert.equal(s3.bucket, "my-bucket");
    assert.equal(s3.key(blobPath(EMPTY_DIGEST)), `some/prefix/v1/blobs/sha256/e3/${EMPTY_DIGEST.slice(7)}`);
    s3.destroy();
    assert.throws(() => createBlobStoreFromUrl("s3://my-bucket"), /needs S3 client options/);
    assert.throws(() => createBlobStoreFromUrl("http://example.invalid/x"), /unsupported blob store URL/);
  });
});
