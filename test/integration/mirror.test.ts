// Mirroring from the fake upstream (tfhub.dev -> Kaggle -> signed storage chain, served on
// loopback from the real fixtures): every format, progress, single-flight, every failure mode with
// its reason and nothing half-written.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { createTestWorld, type TestWorld } from "../helpers/world.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { requestMirror } from "../../lib/models/mirror-request.ts";
import { getMirror, type MirrorView } from "../../lib/models/mirror-view.ts";
import { runMirrorFetch } from "../../lib/models/mirror-fetch.ts";
import { publishVersion } from "../../lib/models/versions.ts";
import { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import type { FetchPolicy } from "../../lib/upstream/fetcher.ts";
import type { Principal } from "../../lib/auth/principal.ts";

let world: TestWorld;
let t: TestWorld["db"];
let up: TestWorld["up"];
let dir: string;
let policy: FetchPolicy;
// The world's publisher (u1, publish scope).
let actor: Principal;

before(async () => {
  world = await createTestWorld({
    name: "mirror",
    upstream: true,
    publisher: true,
    store: true,
    queue: true,
    allowlist: ["google/*", "tensorflow/*", "!google/experimental/*"],
  });
  ({ db: t, up, storeDir: dir, publisher: actor } = world);
  policy = {
    allowedHosts: [`127.0.0.1:${up.port}`],
    upstreamBase: up.base,
    allowPrivate: true,
    retries: 2,
    backoffMs: 20,
    idleTimeoutMs: 1500,
  };
});
after(() => world?.close());

async function mirror(url: string) {
  const { mirror: m } = await requestMirror({ url, actor });
  return runMirrorFetch(m.id, { policy });
}

function sha(file: string) {
  return `sha256:${createHash("sha256").update(fs.readFileSync(file)).digest("hex")}`;
}

test("a TF1 Hub module mirrors through the redirect chain, keeping the exact archive", async () => {
  const done = await mirror("https://tfhub.dev/google/half_plus_two/1");
  assert.equal(done.status, "stored", done.error);
  const archive = fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz");
  assert.equal(done.bytesDone, fs.statSync(archive).size);
  assert.equal(done.bytesTotal, fs.statSync(archive).size);
  const v = await t.handle.prisma.version.findFirstOrThrow({
    where: { module: { handle: "google/half_plus_two" } },
    include: { files: true },
  });
  assert.equal(v.status, "pending");
  assert.equal(v.format, "tf1_hub");
  assert.equal(v.digest, sha(archive), "the primary blob is the upstream archive, byte for byte");
  const byPath = Object.fromEntries(v.files.map((f) => [f.path, f.digest]));
  const extracted = fixturePath("hub-half_plus_two_v1_extracted");
  for (const rel of [
    "saved_model.pb",
    "tfhub_module.pb",
    "variables/variables.index",
    "variables/variables.data-00000-of-00001",
  ]) {
    assert.equal(byPath[rel], sha(path.join(extracted, rel)), rel);
  }
  assert.equal(up.fetches.get("google/half_plus_two@1"), 1);
});

test("the same version again answers the stored one without fetching", async () => {
  const { mirror: m, existing } = await requestMirror({
    url: "https://tfhub.dev/google/half_plus_two/1?tf-hub-format=compressed",
    actor,
  });
  assert.equal(existing, true);
  assert.equal(m.status, "stored");
  assert.equal(up.fetches.get("google/half_plus_two@1"), 1);
});

test("TF2 SavedModels, TF.js graph models and TFLite files mirror", async () => {
  const sm = await mirror("https://tfhub.dev/google/half_plus_two_tf2/1");
  assert.equal(sm.status, "stored", sm.error);
  const smv = await t.handle.prisma.version.findFirstOrThrow({
    where: { module: { handle: "google/half_plus_two_tf2" } },
    include: { files: true },
  });
  assert.equal(smv.format, "saved_model");
  assert.ok(smv.files.some((f) => f.path === "assets/foo.txt"));

  const js = await mirror("https://tfhub.dev/tensorflow/tfjs-model/blazeface/1/default/1");
  assert.equal(js.status, "stored", js.error);
  const jsv = await t.handle.prisma.version.findFirstOrThrow({
    where: { module: { handle: "tensorflow/tfjs-model/blazeface/1/default" } },
    include: { files: true },
  });
  assert.equal(jsv.format, "tfjs_graph");
  assert.deepEqual(jsv.files.map((f) => f.path).sort(), ["blazeface.bin", "model.json"]);
  assert.equal(
    jsv.files.find((f) => f.path === "blazeface.bin")!.digest,
    sha(fixturePath("human-blazeface", "blazeface.bin")),
  );

  const lite = await mirror("https://tfhub.dev/tensorflow/lite-model/half_plus_two/1/default/1");
  assert.equal(lite.status, "stored", lite.error);
  const litev = await t.handle.prisma.version.findFirstOrThrow({
    where: { module: { handle: "tensorflow/lite-model/half_plus_two/1/default" } },
  });
  assert.equal(litev.format, "tflite");
  assert.equal(litev.digest, sha(fixturePath("serving-half_plus_two_tflite", "model.tflite")));
});

test("50 concurrent requests for one version make exactly one mirror request and one upstream request", async () => {
  const before = up.requests;
  const results = await Promise.all(
    Array.from({ length: 50 }, () => requestMirror({ url: "https://tfhub.dev/google/times_three_float/1", actor })),
  );
  const ids = new Set(results.map((r) => r.mirror.id));
  assert.equal(ids.size, 1);
  assert.equal(up.requests, before, "requesting (creating or joining) contacts no upstream");
  const done = await runMirrorFetch([...ids][0]!, { policy });
  assert.equal(done.status, "stored", done.error);
  assert.equal(up.fetches.get("google/times_three_float@1"), 1);
  assert.equal(up.hits.get("/google/times_three_float/1"), 1);
  assert.equal(up.requests - before, 3, "one download: tfhub.dev -> Kaggle -> signed storage");
});

async function expectFailure(url: string, reason: RegExp) {
  const before = {
    versions: await t.handle.prisma.version.count(),
    blobs: fs.readdirSync(dir, { recursive: true }).length,
  };
  const done = await mirror(url);
  assert.equal(done.status, "failed");
  assert.match(done.error ?? "", reason);
  assert.equal(await t.handle.prisma.version.count(), before.versions, "no version row");
  const blobFiles = (fs.readdirSync(path.join(dir, "v1/blobs/sha256"), { recursive: true }) as string[]).filter((f) =>
    /[0-9a-f]{64}$/.test(f),
  );
  const rows = await t.handle.prisma.blob.findMany({ select: { digest: true } });
  assert.deepEqual(
    new Set(blobFiles.map((f) => `sha256:${path.basename(f)}`)),
    new Set(rows.map((r) => r.digest)),
    "no committed blob without a row",
  );
  const active = await t.handle.prisma.mirrorRequest.count({ where: { activeKey: { not: null } } });
  assert.equal(active, 0, "failures are not cached");
}

test("failure modes end failed with a human reason and nothing half-written", async () => {
  await expectFailure("https://tfhub.dev/google/html-page/1", /upstream returned HTML, not a module/);
  await expectFailure("https://tfhub.dev/google/expired/1", /403 .*SignatureDoesNotMatch/);
  await expectFailure("https://tfhub.dev/google/metadata/1", /redirect to 169\.254\.169\.254 refused|metadata/);
  await expectFailure("https://tfhub.dev/google/other-loopback/1", /redirect to 127\.0\.0\.2:\d+ refused/);
  await expectFailure("https://tfhub.dev/google/loop/1", /too many redirects/);
  await expectFailure("https://tfhub.dev/google/truncated/1", /body shorter than Content-Length/);
  await expectFailure("https://tfhub.dev/google/slow/1", /timed out/);
  await expectFailure("https://tfhub.dev/google/no-such-model/1", /HTML, not a module/);
});

test("5xx then success mirrors after retries; a failed request can be retried later", async () => {
  const done = await mirror("https://tfhub.dev/google/flaky/1");
  assert.equal(done.status, "stored", done.error);
  const again = await requestMirror({ url: "https://tfhub.dev/google/html-page/1", actor });
  assert.equal(again.existing, false);
  assert.equal(again.mirror.status, "queued", "a new attempt starts");
});

async function withUnreachableUpstream<T>(fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, { HUBKEEP_UPSTREAM_TFHUB: "http://127.0.0.1:9", HUBKEEP_UPSTREAM_HOSTS: "127.0.0.1:9" });
  (globalThis as { __hubkeepEnv?: unknown }).__hubkeepEnv = undefined;
  try {
    return await fn();
  } finally {
    process.env = saved;
    (globalThis as { __hubkeepEnv?: unknown }).__hubkeepEnv = undefined;
  }
}

test("an unreachable upstream: an unversioned request fails fast with 503; a versioned one fails its fetch with the reason", async () => {
  await withUnreachableUpstream(async () => {
    const started = Date.now();
    await assert.rejects(requestMirror({ url: "https://tfhub.dev/google/unreachable_model", actor }), {
      status: 503,
      message: /upstream unreachable: 127\.0\.0\.1:9 refused the connection/,
    });
    assert.ok(Date.now() - started < 5000);
    assert.equal(await t.handle.prisma.mirrorRequest.count({ where: { handle: "google/unreachable_model" } }), 0);
    // A versioned request does not contact the upstream (the download is the mirror's only
    // upstream request): it is queued, and the fetch ends failed naming the cause.
    const { mirror: m } = await requestMirror({ url: "https://tfhub.dev/google/unreachable_model/1", actor });
    assert.equal(m.status, "queued");
    const done = await runMirrorFetch(m.id, {
      policy: {
        allowedHosts: ["127.0.0.1:9"],
        upstreamBase: "http://127.0.0.1:9",
        allowPrivate: true,
        retries: 1,
        backoffMs: 10,
      },
    });
    assert.equal(done.status, "failed");
    assert.match(done.error ?? "", /upstream unreachable: 127\.0\.0\.1:9 refused the connection/);
    assert.equal(
      await t.handle.prisma.mirrorRequest.count({
        where: { handle: "google/unreachable_model", activeKey: { not: null } },
      }),
      0,
    );
  });
});

const expireLatest = (handle: string) =>
  t.handle.prisma.setting.deleteMany({ where: { key: `mirror.latest:tfhub:${handle}` } });

test("an unversioned URL mirrors the upstream's latest version and names it", async () => {
  const before = up.requests;
  const { mirror: m, existing } = await requestMirror({ url: "https://tfhub.dev/google/latest_demo", actor });
  assert.equal(existing, false);
  assert.equal(m.version, 3, "the number the upstream's redirect named");
  assert.equal(m.url, "https://tfhub.dev/google/latest_demo/3");
  assert.equal(up.requests - before, 1, "one upstream request: the redirect is read, not followed");
  assert.equal(up.hits.get("/google/latest_demo"), 1);
  const done = await runMirrorFetch(m.id, { policy });
  assert.equal(done.status, "stored", done.error);
  assert.equal(done.version, 3);
  const v = await t.handle.prisma.version.findFirstOrThrow({ where: { module: { handle: "google/latest_demo" } } });
  assert.equal(v.number, 3);
  const audit = await t.handle.prisma.auditEvent.findFirstOrThrow({
    where: { action: "mirror.request", target: "google/latest_demo/3" },
  });
  assert.deepEqual(audit.details, {
    url: "https://tfhub.dev/google/latest_demo/3",
    mirrorId: m.id,
    requestedUrl: "https://tfhub.dev/google/latest_demo",
    pinned: "latest",
  });

  // A newer upstream version: once the last answer has aged, the next request pins it.
  up.latest.set("google/latest_demo", 4);
  try {
    const cached = await requestMirror({ url: "https://tfhub.dev/google/latest_demo", actor });
    assert.equal(cached.mirror.version, 3, "a fresh answer is reused");
    assert.equal(cached.existing, true);
    await expireLatest("google/latest_demo");
    const newer = await requestMirror({ url: "https://tfhub.dev/google/latest_demo", actor });
    assert.equal(newer.mirror.version, 4);
    assert.equal(newer.mirror.status, "queued");
    assert.equal(
      (await runMirrorFetch(newer.mirror.id, { policy })).status,
      "failed",
      "the fake has no version 4 to download",
    );
  } finally {
    up.latest.delete("google/latest_demo");
    await expireLatest("google/latest_demo");
  }
});

test("20 concurrent unversioned requests ask the upstream for the latest version once", async () => {
  up.latestDelayMs = 300;
  try {
    const before = up.requests;
    const results = await Promise.all(
      Array.from({ length: 20 }, () => requestMirror({ url: "https://tfhub.dev/google/latest_demo", actor })),
    );
    assert.deepEqual(new Set(results.map((r) => r.mirror.version)), new Set([3]));
    assert.equal(new Set(results.map((r) => r.mirror.id)).size, 1);
    assert.ok(results.every((r) => r.existing && r.mirror.status === "stored"));
    assert.equal(up.requests - before, 1, "one upstream request in all");
  } finally {
    up.latestDelayMs = undefined;
  }
});

test("unversioned URLs the upstream cannot pin: 502 naming its answer; 403 before any upstream contact", async () => {
  const before = up.requests;
  await assert.rejects(requestMirror({ url: "https://tfhub.dev/evilcorp/model", actor }), {
    status: 403,
    message: /no rule allows "evilcorp\/model"/,
  });
  assert.equal(up.requests, before, "the allowlist refused before the upstream was asked");
  await assert.rejects(requestMirror({ url: "https://tfhub.dev/google/no_such_model", actor }), {
    status: 502,
    message:
      /upstream has no such model: 127\.0\.0\.1:\d+ redirected google\/no_such_model to .*\/models\?tfhub-redirect=true \(Kaggle's model search\)/,
  });
  await assert.rejects(requestMirror({ url: "https://tfhub.dev/google/html-page", actor }), {
    status: 502,
    message: /answered 200 \(text\/html\) for .*google\/html-page instead of a redirect to a versioned URL/,
  });
  assert.equal(
    await t.handle.prisma.mirrorRequest.count({
      where: { handle: { in: ["google/no_such_model", "google/html-page"] }, versionNumber: null },
    }),
    0,
  );
  // A failure is not remembered: the next request asks again.
  const again = up.requests;
  await assert.rejects(requestMirror({ url: "https://tfhub.dev/google/no_such_model", actor }), { status: 502 });
  assert.equal(up.requests - again, 1);
});

test("a Kaggle URL without a version pins the latest version Kaggle's API names", async () => {
  const { mirror: m } = await requestMirror({
    url: "https://www.kaggle.com/models/google/latest-demo/tensorFlow2/default",
    actor,
    kaggleBase: up.base,
  });
  assert.equal(m.handle, "google/latest-demo/tensorflow2/default");
  assert.equal(m.version, 3);
  assert.equal(m.url, "https://www.kaggle.com/models/google/latest-demo/tensorflow2/default/3");
  assert.equal(up.hits.get("/api/v1/models/google/latest-demo/tensorflow2/default/get"), 1);
  // (Its download goes to www.kaggle.com, which this test's fetch policy refuses: no network.)
  const done = await runMirrorFetch(m.id, { policy });
  assert.equal(done.status, "failed");
  assert.match(done.error ?? "", /www\.kaggle\.com refused/);
  await assert.rejects(
    requestMirror({
      url: "https://www.kaggle.com/models/google/nothing/tensorFlow2/default",
      actor,
      kaggleBase: up.base,
    }),
    {
      status: 502,
      message: /upstream has no such model \(404 from 127\.0\.0\.1:\d+\)/,
    },
  );
});

test("the allowlist refuses with 403 naming the rule, audited; bad URLs are 422", async () => {
  await assert.rejects(requestMirror({ url: "https://tfhub.dev/google/experimental/thing/1", actor }), {
    status: 403,
    message: `not allowlisted: "google/experimental/thing" is denied by rule "!google/experimental/*"`,
  });
  await assert.rejects(requestMirror({ url: "https://tfhub.dev/evilcorp/model/1", actor }), {
    status: 403,
    message: /no rule allows "evilcorp\/model"/,
  });
  assert.equal(
    await t.handle.prisma.auditEvent.count({
      where: {
        action: "mirror.refused",
        outcome: "denied",
        target: { in: ["google/experimental/thing", "evilcorp/model"] },
      },
    }),
    3,
    "each refusal, including the unversioned one earlier",
  );
  await assert.rejects(requestMirror({ url: "https://example.com/x/1", actor }), { status: 422 });
});

test("progress is visible while a fetch runs", async () => {
  up.throttle = { chunk: 64 * 1024, delayMs: 30 };
  try {
    const { mirror: m } = await requestMirror({ url: "https://tfhub.dev/google/kws_dscnn/1", actor });
    const running = runMirrorFetch(m.id, { policy });
    let sawPartial = false;
    for (let i = 0; i < 200 && !sawPartial; i++) {
      const v = await getMirror(m.id);
      if (v.status === "fetching" && v.bytesDone > 0 && v.bytesTotal !== null && v.bytesDone < v.bytesTotal)
        sawPartial = true;
      await new Promise((r) => setTimeout(r, 25));
    }
    const done = await running;
    assert.equal(done.status, "stored", done.error);
    assert.ok(sawPartial, "bytesDone moved between 0 and bytesTotal");
    assert.equal(done.bytesDone, done.bytesTotal);
  } finally {
    up.throttle = undefined;
  }
});

test("resync: unchanged upstream is confirmed; changed upstream bytes flag drift and keep the stored version", async () => {
  const { resyncMirror } = await import("../../lib/models/mirror-resync.ts");
  const m = await t.handle.prisma.mirrorRequest.findFirstOrThrow({
    where: { handle: "google/half_plus_two", status: "stored" },
  });
  const v0 = await t.handle.prisma.version.findFirstOrThrow({ where: { id: m.versionId! } });
  const same = await resyncMirror({ mirrorId: m.id, actor, policy });
  assert.equal(same.drift, false);
  assert.equal(same.upstreamDigest, v0.digest);

  up.overrides.set(
    "google/half_plus_two@1",
    Buffer.concat([
      fs.readFileSync(fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz")),
      Buffer.from([0]),
    ]),
  );
  try {
    const changed = await resyncMirror({ mirrorId: m.id, actor, policy });
    assert.equal(changed.drift, true);
    assert.notEqual(changed.upstreamDigest, v0.digest);
    const v1 = await t.handle.prisma.version.findFirstOrThrow({ where: { id: v0.id }, include: { files: true } });
    assert.equal(v1.digest, v0.digest, "the stored bytes stay");
    assert.equal(v1.upstreamDrift, true);
    assert.equal(v1.upstreamDigest, changed.upstreamDigest);
    const audit = await t.handle.prisma.auditEvent.findFirstOrThrow({ where: { action: "mirror.drift" } });
    assert.deepEqual(audit.details, { storedDigest: v0.digest, upstreamDigest: changed.upstreamDigest });
  } finally {
    up.overrides.clear();
  }
});

test("a request deciding while the fetch finishes: the fetch's publish waits, the request joins it", async () => {
  const url = "https://tfhub.dev/google/module_v1_mini/1";
  const first = await requestMirror({ url, actor });
  // The second request has found no version; the fetch runs to its publish meanwhile, and must wait
  // for the request's decision (the mirror lock) instead of committing under it.
  let fetching: Promise<MirrorView> | undefined;
  const second = await requestMirror({
    url,
    actor,
    afterVersionCheck: async () => {
      fetching = runMirrorFetch(first.mirror.id, { policy });
      await delay(300);
    },
  });
  assert.equal(second.mirror.id, first.mirror.id, "the caller joins the running request");
  assert.equal(second.existing, false);
  assert.equal((await fetching!).status, "stored");
  assert.equal(await t.handle.prisma.mirrorRequest.count({ where: { handle: "google/module_v1_mini" } }), 1);
  assert.equal(up.fetches.get("google/module_v1_mini@1"), 1);
});

test("a request while the fetch's publish is uncommitted gets the request that fetched it", async () => {
  const url = "https://tfhub.dev/tensorflow/tfjs-model/matmul/1/default/1";
  const first = await requestMirror({ url, actor });
  let second: Promise<{ mirror: MirrorView; existing: boolean }> | undefined;
  const done = await runMirrorFetch(first.mirror.id, {
    policy,
    onPublishStep: async (step) => {
      if (step !== "before-commit") return;
      // The version row exists and the request is marked stored, neither committed.
      second = requestMirror({ url, actor });
      await delay(300);
    },
  });
  assert.equal(done.status, "stored");
  const joined = await second!;
  assert.equal(joined.mirror.id, first.mirror.id);
  assert.equal(joined.existing, true);
  assert.equal(joined.mirror.status, "stored");
  assert.equal(
    await t.handle.prisma.mirrorRequest.count({ where: { handle: "tensorflow/tfjs-model/matmul/1/default" } }),
    1,
  );
  assert.equal(up.fetches.get("tensorflow/tfjs-model/matmul/1/default@1"), 1);
});

test("a request between the fetch's publish and its stored mark joins that fetch's request", async () => {
  // The fetch commits the version first, then marks its request stored and releases activeKey. A
  // request in between finds the version: it must answer the fetch's request, not add a row.
  const url = "https://tfhub.dev/google/window_race/1";
  const first = await requestMirror({ url, actor });
  const bytes = Buffer.from("not a model: only the version row matters here");
  const blob = await world.store.put(Readable.from([bytes]));
  await publishVersion({
    handle: "google/window_race",
    version: 1,
    format: "saved_model",
    source: { kind: "upload", userId: null },
    primary: blob,
    files: [{ path: "saved_model.pb", digest: blob.digest, size: blob.size }],
    actor: null,
  });
  const second = await requestMirror({ url, actor });
  assert.equal(second.mirror.id, first.mirror.id);
  assert.equal(second.existing, true);
  assert.equal(await t.handle.prisma.mirrorRequest.count({ where: { handle: "google/window_race" } }), 1);
});

test("every fixture model of the fake upstream mirrors", async () => {
  const { FAKE_MODELS } = await import("../helpers/fake-upstream.ts");
  for (const key of Object.keys(FAKE_MODELS)) {
    const [handle, version] = key.split("@") as [string, string];
    const existing = await t.handle.prisma.version.count({ where: { number: Number(version), module: { handle } } });
    if (existing) continue;
    const done = await mirror(`https://tfhub.dev/${handle}/${version}`);
    assert.equal(done.status, "stored", `${key}: ${done.error}`);
    assert.ok(done.bytesDone > 0, key);
  }
  assert.equal(
    await t.handle.prisma.version.count({ where: { module: { source: "upstream" } } }),
    Object.keys(FAKE_MODELS).length + 1,
    "plus google/flaky",
  );
});
