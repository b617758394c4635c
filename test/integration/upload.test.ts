// Uploads through the real server: `hubkeep push` streams a fixture, it is validated like a mirrored
// version, an admin approves it and the hub URL serves identical bytes. Then the refusals: outside the
// namespace (403), not a model (422 naming what was found), other bytes for the same version (409),
// over the size limit (413, with and without Content-Length, leaving nothing behind), and metadata.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { startServer, runCommand, baseEnv, freePort, type RunningServer } from "../helpers/server.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "../helpers/db.ts";
import { callApi, sessionCaller } from "../helpers/api-client.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { packTarGz } from "../../lib/archive/pack.ts";

let server: RunningServer;
let base: string;
let work: string;
let dataDir: string;
let dropDb: (() => Promise<void>) | undefined;
let admin: string;
let publisher: string;
let viewer: string;
const MAX = 2_000_000;

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

// The answers are read field by field and asserted, as JSON.parse's `any` allowed before.
const api = (method: string, url: string, token: string, body?: unknown) =>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  callApi<any>(base, method, url, token, body);

async function put(url: string, token: string, body: BodyInit, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/api/v1/models/${url}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, ...headers },
    body,
    duplex: "half",
  } as RequestInit);
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: (() => {
      try {
        return JSON.parse(text);
      } catch {
        return null;
      }
    })(),
  };
}

function blobCount(): number {
  let n = 0;
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (/^[0-9a-f]{64}$/.test(e.name)) n++;
    }
  };
  walk(path.join(dataDir, "blobs"));
  return n;
}

async function waitForStatus(handle: string, n: number, want: string[], token: string) {
  const until = Date.now() + 120_000;
  for (;;) {
    const v = await api("GET", `/api/v1/models/${handle}/versions/${n}`, token);
    if (want.includes(v.json?.status)) return v.json;
    if (Date.now() > until) throw new Error(`${handle}/${n} stayed ${v.json?.status}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-upload-"));
  dataDir = path.join(work, "data");
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    PORT: String(port),
    HUBKEEP_PUBLIC_URL: `http://localhost:${port}`,
    HUBKEEP_DATA_DIR: dataDir,
    HUBKEEP_ADMIN_EMAIL: "admin@example.com",
    HUBKEEP_ADMIN_PASSWORD: "admin-password-1",
    HUBKEEP_MAX_UPLOAD_BYTES: String(MAX),
    HUBKEEP_ANONYMOUS_READ: "true",
  };
  if (usingPostgres()) {
    const db = await createEmptyPostgresDatabase();
    env.DATABASE_URL = db.url;
    dropDb = db.drop;
  }
  server = await startServer(env);
  const s = await sessionCaller(base, "admin@example.com", "admin-password-1");
  const pub = await s("POST", "/api/v1/users", { email: "pub@example.com", role: "publisher" });
  await s("PATCH", `/api/v1/users/${pub.id}`, { namespaces: ["internal/team/*"] });
  await s("POST", "/api/v1/users", { email: "viewer@example.com", role: "viewer" });
  admin = (await s("POST", "/api/v1/tokens", { scope: "admin" })).token;
  publisher = (await s("POST", "/api/v1/tokens", { scope: "publish", email: "pub@example.com" })).token;
  viewer = (await s("POST", "/api/v1/tokens", { scope: "read", email: "viewer@example.com" })).token;
});

after(async () => {
  await server?.stop();
  await dropDb?.();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test("hubkeep push -> validation -> approval -> download of identical bytes", async () => {
  const file = fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz");
  const r = await runCommand(
    ["bin/hubkeep.mjs", "push", "internal/team/half_plus_two", "1", file],
    baseEnv({ HUBKEEP_URL: base, HUBKEEP_TOKEN: publisher }),
  );
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.handle, "internal/team/half_plus_two");
  assert.equal(doc.status, "pending");
  assert.equal(doc.format, "tf1_hub");
  assert.deepEqual(doc.source, { uploadedBy: "pub@example.com" });
  assert.match(r.stderr, /uploaded: internal\/team\/half_plus_two version 1/);
  const validated = await waitForStatus(
    "internal/team/half_plus_two",
    1,
    ["validated", "failed", "quarantined"],
    admin,
  );
  assert.equal(validated.status, "validated", JSON.stringify(validated.validation));
  // Not served before approval.
  assert.equal((await fetch(`${base}/internal/team/half_plus_two/1?tf-hub-format=compressed`)).status, 404);
  assert.equal(
    (await api("POST", "/api/v1/models/internal/team/half_plus_two/versions/1/approve", admin, { note: "upload test" }))
      .status,
    200,
  );
  const dl = await fetch(`${base}/internal/team/half_plus_two/1?tf-hub-format=compressed`);
  assert.equal(dl.status, 200);
  const bytes = Buffer.from(await dl.arrayBuffer());
  assert.equal(sha(bytes), sha(fs.readFileSync(file)), "the download is byte-identical to the upload");
  assert.equal(dl.headers.get("etag"), `"sha256:${sha(bytes)}"`);
  // The same bytes again: 200, nothing new.
  const again = await put("internal/team/half_plus_two/versions/1", publisher, fs.readFileSync(file));
  assert.equal(again.status, 200, again.text);
});

test("a TF.js graph model upload is recognised and executed by the validator", async () => {
  const dir = fixturePath("tfjs-graph-model-matmul");
  const archive = Readable.toWeb(
    packTarGz(
      ["model.json", "weights.bin"].map((p) => ({
        path: p,
        size: fs.statSync(path.join(dir, p)).size,
        open: () => fs.createReadStream(path.join(dir, p)),
      })),
    ),
  ) as ReadableStream;
  const r = await put("internal/team/matmul/versions/3", publisher, archive, { "content-type": "application/gzip" });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.format, "tfjs_graph");
  const v = await waitForStatus("internal/team/matmul", 3, ["validated", "failed", "quarantined"], admin);
  assert.equal(v.status, "validated");
  assert.equal(v.validation.level, "executed");
});

test("refusals: outside the namespace 403, not a model 422, other bytes 409, and a viewer 403", async () => {
  const tflite = fs.readFileSync(fixturePath("serving-half_plus_two_tflite", "model.tflite"));
  const outside = await put("internal/other/model/versions/1", publisher, tflite);
  assert.equal(outside.status, 403, outside.text);
  assert.match(outside.json.error.message, /internal\/other\/model is outside your namespaces \(internal\/team\/\*\)/);
  const asViewer = await put("internal/team/x/versions/1", viewer, tflite);
  assert.equal(asViewer.status, 403);
  assert.match(asViewer.json.error.message, /publish/);

  const text = await put("internal/team/notes/versions/1", publisher, "hello, this is not a model\n");
  assert.equal(text.status, 422, text.text);
  assert.match(text.json.error.message, /not a model archive .* found text starting "hello, this is not a model"/);
  const zip = await put(
    "internal/team/zipped/versions/1",
    publisher,
    Buffer.concat([Buffer.from("PK\x03\x04", "latin1"), Buffer.alloc(100)]),
  );
  assert.equal(zip.status, 422);
  assert.match(zip.json.error.message, /a ZIP archive \(upload a \.tar\.gz instead\)/);
  const noModel = await put(
    "internal/team/nomodel/versions/1",
    publisher,
    Readable.toWeb(
      packTarGz([{ path: "README.md", size: 5, open: () => Readable.from([Buffer.from("hello")]) }]),
    ) as ReadableStream,
  );
  assert.equal(noModel.status, 422);
  assert.match(noModel.json.error.message, /no saved_model\.pb or model\.json at its root \(found README\.md\)/);

  const other = await put("internal/team/half_plus_two/versions/1", publisher, tflite);
  assert.equal(other.status, 409, other.text);
  // Nothing of the refused uploads is listed as a version.
  assert.equal((await api("GET", "/api/v1/models/internal/team/notes/versions/1", admin)).status, 404);
});

test("over the size limit: 413 from Content-Length before reading, and while streaming without one; nothing left behind", async () => {
  const before = blobCount();
  const big = Buffer.alloc(MAX + 1, 7);
  const declared = await put("internal/team/big/versions/1", publisher, big);
  assert.equal(declared.status, 413, declared.text);
  assert.match(declared.json.error.message, /limit is 2000000 \(HUBKEEP_MAX_UPLOAD_BYTES\)/);
  async function* chunks() {
    for (let i = 0; i < 40; i++) yield new Uint8Array(100_000).fill(i);
  }
  const streamed = await put(
    "internal/team/big/versions/2",
    publisher,
    Readable.toWeb(Readable.from(chunks())) as ReadableStream,
  );
  assert.equal(streamed.status, 413, streamed.text);
  assert.equal(blobCount(), before, "no blob was kept from a refused upload");
  assert.equal((await api("GET", "/api/v1/models/internal/team/big/versions/2", admin)).status, 404);
});

test("PATCH metadata: validated by the schema, owned by the namespace's publishers", async () => {
  const ok = await api("PATCH", "/api/v1/models/internal/team/half_plus_two", publisher, {
    title: "Half plus two",
    description: "# Halves\n\nComputes `0.5x + 2`.",
    task: "regression",
    tags: ["Demo", "tf1"],
    license: "Apache-2.0",
  });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json.tags, ["demo", "tf1"]);
  const bad = await api("PATCH", "/api/v1/models/internal/team/half_plus_two", publisher, {
    tags: ["no spaces allowed"],
    title: "",
  });
  assert.equal(bad.status, 422);
  assert.match(bad.json.error.message, /tags\.0: letters, digits/);
  assert.match(bad.json.error.message, /title/);
  const unknown = await api("PATCH", "/api/v1/models/internal/team/half_plus_two", publisher, { owner: "me" });
  assert.equal(unknown.status, 422);
  assert.match(unknown.json.error.message, /owner/);
  assert.equal((await api("PATCH", "/api/v1/models/internal/team/half_plus_two", viewer, { title: "x" })).status, 403);
  assert.equal(
    (await api("PATCH", "/api/v1/models/internal/team/nothing-here", publisher, { title: "x" })).status,
    404,
  );
});
