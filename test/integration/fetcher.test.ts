// The safe fetcher against a local fake upstream (loopback only). Refusals of private and
// metadata addresses are asserted in the lookup/connect hook: nothing outside loopback is contacted.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import fs from "node:fs";
import { createHash } from "node:crypto";
import { openUpstream, checkHop, headersForHop, type FetchPolicy } from "../../lib/upstream/fetcher.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const archive = fs.readFileSync(fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz"));
const hits: Record<string, number> = {};
const seenAuth: Record<string, string | undefined> = {};
let server: http.Server;
let base: string;
let port: number;
const sockets = new Set<net.Socket>();

before(async () => {
  server = http.createServer((req, res) => {
    const p = new URL(req.url!, "http://x").pathname;
    hits[p] = (hits[p] ?? 0) + 1;
    seenAuth[p] = req.headers.authorization;
    switch (p) {
      case "/ok":
        res.writeHead(200, { "content-type": "application/gzip", "content-length": archive.length });
        return res.end(archive);
      case "/html":
        res.writeHead(200, { "content-type": "text/html" });
        return res.end("<!DOCTYPE html><html><body>Kaggle: model not found</body></html>");
      case "/xml403":
        res.writeHead(403, { "content-type": "application/xml" });
        return res.end("<?xml version='1.0'?><Error><Code>SignatureDoesNotMatch</Code></Error>");
      case "/to-metadata":
        res.writeHead(302, { location: "https://169.254.169.254/latest/meta-data/" });
        return res.end();
      case "/to-other-loopback":
        res.writeHead(302, { location: `http://127.0.0.2:${port}/ok` });
        return res.end();
      case "/loop":
        res.writeHead(302, { location: "/loop" });
        return res.end();
      case "/chain": {
        const n = Number(new URL(req.url!, "http://x").searchParams.get("n"));
        res.writeHead(302, { location: n > 0 ? `/chain?n=${n - 1}` : "/ok" });
        return res.end();
      }
      case "/truncated":
        res.writeHead(200, { "content-length": 1000 });
        res.write(archive.subarray(0, 500));
        return setTimeout(() => res.socket?.destroy(), 50);
      case "/slow":
        res.writeHead(200, { "content-length": 1000 });
        res.write(archive.subarray(0, 10));
        return; // never finishes
      case "/flaky":
        if (hits[p] <= 2) {
          res.writeHead(503);
          return res.end("busy");
        }
        res.writeHead(200, { "content-length": archive.length });
        return res.end(archive);
      case "/to-localhost":
        res.writeHead(302, { location: `http://localhost:${port}/ok` });
        return res.end();
      default:
        res.writeHead(404);
        return res.end("no");
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});
after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

const policy = (over: Partial<FetchPolicy> = {}): FetchPolicy => ({
  allowedHosts: [`127.0.0.1:${port}`],
  upstreamBase: base,
  allowPrivate: true,
  retries: 2,
  backoffMs: 20,
  idleTimeoutMs: 2000,
  ...over,
});

async function readAll(body: AsyncIterable<Buffer>) {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c);
  return Buffer.concat(parts);
}

test("a plain fetch streams the exact bytes", async () => {
  const res = await openUpstream(`${base}/ok`, policy());
  assert.equal(res.contentLength, archive.length);
  const got = await readAll(res.body);
  assert.equal(createHash("sha256").update(got).digest("hex"), createHash("sha256").update(archive).digest("hex"));
});

test("HTML with status 200 is 'not a module'", async () => {
  const res = await openUpstream(`${base}/html`, policy());
  await assert.rejects(readAll(res.body), { message: /upstream returned HTML, not a module/ });
});

test("403 XML from an expired signed URL names the S3 error and is not retried", async () => {
  await assert.rejects(openUpstream(`${base}/xml403`, policy()), { message: /403 .*SignatureDoesNotMatch/ });
  assert.equal(hits["/xml403"], 1);
});

test("a redirect to the metadata address is refused in the connect hook, even with private upstreams allowed", async () => {
  await assert.rejects(
    openUpstream(
      `${base}/to-metadata`,
      policy({ allowedHosts: [`127.0.0.1:${port}`, "169.254.169.254:443", "169.254.169.254"] }),
    ),
    {
      message: /169\.254\.169\.254 is a cloud metadata .* refused/,
    },
  );
});

test("a redirect to another loopback address is refused", async () => {
  await assert.rejects(openUpstream(`${base}/to-other-loopback`, policy()), {
    message: /redirect to 127\.0\.0\.2:\d+ refused/,
  });
  await assert.rejects(
    openUpstream(
      `${base}/to-other-loopback`,
      policy({ allowPrivate: false, allowedHosts: [`127.0.0.1:${port}`, `127.0.0.2:${port}`] }),
    ),
    { message: /redirect to a private address refused: 127\.0\.0\.1 is loopback/ },
  );
});

test("DNS answers are checked at lookup time (rebinding): a name resolving to loopback is refused", async () => {
  const before = hits["/ok"] ?? 0;
  await assert.rejects(
    openUpstream(
      `http://localhost:${port}/ok`,
      policy({ allowPrivate: false, upstreamBase: `http://localhost:${port}`, allowedHosts: [`localhost:${port}`] }),
    ),
    { message: /private address refused: .* \(localhost resolved to (127\.0\.0\.1|::1)\)/ },
  );
  assert.equal(hits["/ok"] ?? 0, before, "no request reached the server");
});

test("a redirect loop ends with too many redirects; five hops are fine", async () => {
  await assert.rejects(openUpstream(`${base}/loop`, policy()), { message: /too many redirects/ });
  const ok = await openUpstream(`${base}/chain?n=3`, policy());
  assert.equal((await readAll(ok.body)).length, archive.length);
});

test("a truncated body is reported as shorter than Content-Length", async () => {
  const res = await openUpstream(`${base}/truncated`, policy());
  await assert.rejects(readAll(res.body), { message: /body shorter than Content-Length/ });
});

test("a stalled body times out", async () => {
  const res = await openUpstream(`${base}/slow`, policy({ idleTimeoutMs: 300 }));
  await assert.rejects(readAll(res.body), { message: /timed out/ });
});

test("5xx is retried with backoff, then succeeds; 404 is not retried", async () => {
  const res = await openUpstream(`${base}/flaky`, policy());
  assert.equal((await readAll(res.body)).length, archive.length);
  assert.equal(hits["/flaky"], 3);
  await assert.rejects(openUpstream(`${base}/nope`, policy()), { message: /no such model \(404/ });
  assert.equal(hits["/nope"], 1);
});

test("an unreachable upstream fails fast with 503 and the reason", async () => {
  const started = Date.now();
  await assert.rejects(
    openUpstream(
      "http://127.0.0.1:9/x",
      policy({ upstreamBase: "http://127.0.0.1:9", allowedHosts: ["127.0.0.1:9"], retries: 1 }),
    ),
    (err: Error & { status: number }) => {
      assert.equal(err.status, 503);
      assert.match(err.message, /unreachable: 127\.0\.0\.1:9 refused the connection/);
      return true;
    },
  );
  assert.ok(Date.now() - started < 5000);
});

test("credentials are dropped on a cross-host hop, kept on the same host", async () => {
  const res = await openUpstream(`${base}/chain?n=1`, policy(), {
    headers: { authorization: "Bearer upstream-secret" },
  });
  await readAll(res.body);
  assert.equal(seenAuth["/ok"], "Bearer upstream-secret", "same host keeps them");
  const h = { authorization: "Bearer s", cookie: "a=b", accept: "*/*" };
  assert.deepEqual(headersForHop(h, new URL("https://tfhub.dev/a"), new URL("https://storage.googleapis.com/b")), {
    accept: "*/*",
  });
  assert.deepEqual(headersForHop(h, new URL("https://tfhub.dev/a"), new URL("https://tfhub.dev/b")), h);
  assert.deepEqual(headersForHop(h, new URL("http://tfhub.dev/a"), new URL("https://tfhub.dev/b")), { accept: "*/*" });
});

test("hop rules: https only except the upstream base; hosts from the list", () => {
  const p = policy({ allowedHosts: ["tfhub.dev", "storage.googleapis.com", `127.0.0.1:${port}`] });
  assert.equal(checkHop(new URL("https://storage.googleapis.com/x"), p), null);
  assert.match(checkHop(new URL("http://storage.googleapis.com/x"), p)!, /only https/);
  assert.equal(checkHop(new URL(`${base}/x`), p), null);
  assert.match(checkHop(new URL("https://evil.example/x"), p)!, /not in HUBKEEP_UPSTREAM_HOSTS/);
  assert.match(checkHop(new URL("https://u:p@tfhub.dev/x"), p)!, /credentials/);
});
