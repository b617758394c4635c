// A fake tfhub.dev for tests (loopback only): handles are served from the real fixtures in
// ../shared/fixtures through the same redirect chain the real service uses
// (tfhub.dev -> Kaggle -> a signed storage URL), plus the failure modes seen in the wild.
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type net from "node:net";
import path from "node:path";
import { type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { packTarGz } from "../../lib/archive/pack.ts";
import { fixturePath, listFixtureFiles } from "./fixtures.ts";

type Model =
  | { kind: "targz-file"; file: string }
  | { kind: "dir"; dir: string }
  | { kind: "tfjs"; dir: string; modelJson: string }
  | { kind: "tflite"; file: string };

/** handle@version -> fixture. */
export const FAKE_MODELS: Record<string, Model> = {
  "google/half_plus_two@1": {
    kind: "targz-file",
    file: fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz"),
  },
  "google/times_three_float@1": { kind: "dir", dir: fixturePath("tfjs-node-saved_model", "times_three_float") },
  "google/half_plus_two_tf2@1": {
    kind: "dir",
    dir: fixturePath("serving-saved_model_half_plus_two_tf2_cpu", "00000123"),
  },
  "google/module_v1_mini@1": { kind: "dir", dir: fixturePath("hub-module_v1_mini") },
  "google/kws_dscnn@1": { kind: "dir", dir: fixturePath("mlperf-tiny-kws-dscnn", "model") },
  "tensorflow/tfjs-model/blazeface/1/default@1": {
    kind: "tfjs",
    dir: fixturePath("human-blazeface"),
    modelJson: "blazeface.json",
  },
  "tensorflow/tfjs-model/matmul/1/default@1": {
    kind: "tfjs",
    dir: fixturePath("tfjs-graph-model-matmul"),
    modelJson: "model.json",
  },
  "tensorflow/lite-model/half_plus_two/1/default@1": {
    kind: "tflite",
    file: fixturePath("serving-half_plus_two_tflite", "model.tflite"),
  },
  "tensorflow/lite-model/add4/1/default@1": { kind: "tflite", file: fixturePath("tfjs-tflite-add4", "add4.tflite") },
  // Only version 3 exists: a mirror of the unversioned URL must pin 3, which nothing could guess.
  "google/latest_demo@3": { kind: "dir", dir: fixturePath("hub-module_v1_mini") },
};

/** Kaggle model instances (`owner/model/framework/variation`) -> latest version, for Kaggle's API. */
export const FAKE_KAGGLE_LATEST: Record<string, number> = {
  "google/latest-demo/tensorflow2/default": 3,
};

/** The highest version FAKE_MODELS holds for a handle (what tfhub.dev's unversioned URL redirects to). */
function latestOf(handle: string): number | undefined {
  const versions = Object.keys(FAKE_MODELS)
    .filter((k) => k.slice(0, k.lastIndexOf("@")) === handle)
    .map((k) => Number(k.slice(k.lastIndexOf("@") + 1)));
  return versions.length ? Math.max(...versions) : undefined;
}

export type FakeUpstream = {
  base: string;
  port: number;
  /** Archive downloads that reached the storage step, per `handle@version`. */
  fetches: Map<string, number>;
  /** Requests per path. */
  hits: Map<string, number>;
  /** Every HTTP request the fake received (each hop of a redirect chain counts). */
  requests: number;
  /** Overrides of the latest version an unversioned tfhub.dev URL redirects to, per handle. */
  latest: Map<string, number>;
  /** Delay before answering an unversioned URL (keeps a "latest" lookup in flight in race tests). */
  latestDelayMs?: number;
  /** Slow mode: bytes per chunk and delay between chunks for the final download. */
  throttle?: { chunk: number; delayMs: number };
  /** Upstream drift: serve these bytes instead of the fixture archive, per `handle@version`. */
  overrides: Map<string, Buffer>;
  /** 304 answers to conditional requests, by `handle@version`. */
  notModified: Map<string, number>;
  close(): Promise<void>;
};

async function send(
  res: http.ServerResponse,
  body: Readable | Buffer,
  type: string,
  throttle?: { chunk: number; delayMs: number },
  length?: number,
) {
  res.writeHead(200, { "content-type": type, ...(length !== undefined ? { "content-length": length } : {}) });
  if (Buffer.isBuffer(body)) {
    if (!throttle) return res.end(body);
    for (let i = 0; i < body.length; i += throttle.chunk) {
      if (res.destroyed) return;
      res.write(body.subarray(i, i + throttle.chunk));
      await new Promise((r) => setTimeout(r, throttle.delayMs));
    }
    return res.end();
  }
  await pipeline(body, res).catch(() => {});
}

async function archiveOf(model: Model): Promise<Buffer> {
  if (model.kind === "targz-file") return fs.readFileSync(model.file);
  if (model.kind !== "dir") throw new Error("not an archive model");
  const files = listFixtureFiles(model.dir).filter((f) => f !== "LICENSE" && f !== "PROVENANCE.txt");
  const chunks: Buffer[] = [];
  for await (const c of packTarGz(
    files.map((f) => ({
      path: f,
      size: fs.statSync(path.join(model.dir, f)).size,
      open: () => fs.createReadStream(path.join(model.dir, f)),
    })),
  )) {
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const fetches = new Map<string, number>();
  const hits = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const state: FakeUpstream = {
    base: "",
    port: 0,
    fetches,
    hits,
    requests: 0,
    latest: new Map(),
    overrides: new Map(),
    notModified: new Map(),
    close: async () => {},
  };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url!, "http://fake");
      const p = decodeURIComponent(url.pathname);
      bump(hits, p);
      state.requests++;
      // Final hop: the "signed storage URL".
      const gcs = /^\/gcs\/(.+)@(\d+)\/(.*)$/.exec(p);
      if (gcs) {
        const key = `${gcs[1]}@${gcs[2]}`;
        const model = FAKE_MODELS[key];
        if (!url.searchParams.get("X-Goog-Signature")) {
          res.writeHead(403, { "content-type": "application/xml" });
          return res.end("<?xml version='1.0' encoding='UTF-8'?><Error><Code>SignatureDoesNotMatch</Code></Error>");
        }
        if (!model) {
          res.writeHead(404);
          return res.end();
        }
        const file = gcs[3]!;
        // Like GCS: an ETag of the bytes, and 304 to a matching If-None-Match (counted in notModified).
        const conditional = (body: Buffer) => {
          const etag = `"${createHash("md5").update(body).digest("hex")}"`;
          res.setHeader("etag", etag);
          if (req.headers["if-none-match"] !== etag) return false;
          bump(state.notModified, key);
          res.writeHead(304);
          res.end();
          return true;
        };
        if (file === "archive.tar.gz") {
          const body = state.overrides.get(key) ?? (await archiveOf(model));
          if (conditional(body)) return;
          bump(fetches, key);
          return send(res, body, "application/x-tar", state.throttle, body.length);
        }
        if (model.kind === "tflite" && file === "model.tflite") {
          const body = state.overrides.get(key) ?? fs.readFileSync(model.file);
          if (conditional(body)) return;
          bump(fetches, key);
          return send(res, body, "application/octet-stream", state.throttle, body.length);
        }
        if (model.kind === "tfjs") {
          const name = file === "model.json" ? model.modelJson : file;
          const abs = path.join(model.dir, name);
          if (!name.includes("..") && fs.existsSync(abs)) {
            if (file === "model.json") bump(fetches, key);
            const body = fs.readFileSync(abs);
            return send(
              res,
              body,
              file.endsWith(".json") ? "application/json" : "application/octet-stream",
              undefined,
              body.length,
            );
          }
        }
        res.writeHead(404);
        return res.end();
      }
      // Kaggle hop: redirect to a signed storage URL.
      const kaggle = /^\/kaggle\/(.+)@(\d+)\/(.*)$/.exec(p);
      if (kaggle) {
        res.writeHead(302, {
          location: `/gcs/${kaggle[1]}@${kaggle[2]}/${kaggle[3]}?X-Goog-Signature=fake&X-Goog-Expires=600`,
        });
        return res.end();
      }
      // Kaggle's API: a model instance with its latest version number (Kaggle's SDK reads
      // `versionNumber`); unknown instances are a JSON 404.
      const kaggleApi = /^\/api\/v1\/models\/(.+)\/get$/.exec(p);
      if (kaggleApi) {
        const latest = FAKE_KAGGLE_LATEST[kaggleApi[1]!.toLowerCase()];
        res.writeHead(latest ? 200 : 404, { "content-type": "application/json" });
        return res.end(
          JSON.stringify(
            latest
              ? { id: 1, framework: "tensorFlow2", slug: "default", versionNumber: latest }
              : { code: 404, message: "Not found" },
          ),
        );
      }
      // tfhub.dev hop: /<handle>/<n>[/<file>] with the format query.
      const m = /^\/(.+?)\/(\d+)(?:\/(model\.json|[^/]+\.bin|[^/]+shard[^/]*))?$/.exec(p);
      if (!m && !p.startsWith("/models")) {
        // tfhub.dev without a version: a redirect to the latest version on Kaggle, or to Kaggle's
        // model search for an unknown handle (what tfhub.dev answers since the move to Kaggle).
        if (state.latestDelayMs) await new Promise((r) => setTimeout(r, state.latestDelayMs));
        const h = p.replace(/^\/+|\/+$/g, "");
        if (h === "google/html-page")
          return send(
            res,
            Buffer.from("<!DOCTYPE html><html><head><title>Kaggle</title></head><body>Not found</body></html>"),
            "text/html",
          );
        const latest = state.latest.get(h) ?? latestOf(h);
        if (latest === undefined) {
          res.writeHead(302, { location: "/models?tfhub-redirect=true" });
          return res.end();
        }
        const [owner, ...rest] = h.split("/");
        const framework = h.includes("tfjs-model/") ? "tfJs" : h.includes("lite-model/") ? "tfLite" : "tensorFlow2";
        res.writeHead(302, {
          location: `/models/${owner}/${rest.join("-").replace(/_/g, "-")}/${framework}/default/${latest}?tfhub-redirect=true`,
        });
        return res.end();
      }
      const handle = m?.[1];
      const version = m?.[2];
      switch (handle) {
        case "google/html-page":
          return send(
            res,
            Buffer.from("<!DOCTYPE html><html><head><title>Kaggle</title></head><body>Not found</body></html>"),
            "text/html",
          );
        case "google/expired":
          res.writeHead(302, { location: `/gcs/${handle}@${version}/archive.tar.gz` });
          return res.end();
        case "google/metadata":
          res.writeHead(302, { location: "https://169.254.169.254/computeMetadata/v1/" });
          return res.end();
        case "google/other-loopback":
          res.writeHead(302, {
            location: `http://127.0.0.2:${state.port}/google/half_plus_two/1?tf-hub-format=compressed`,
          });
          return res.end();
        case "google/loop":
          res.writeHead(302, { location: url.pathname + url.search });
          return res.end();
        case "google/truncated":
          res.writeHead(200, { "content-type": "application/x-tar", "content-length": 100_000 });
          res.write(
            fs.readFileSync(fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz")).subarray(0, 300),
          );
          return setTimeout(() => res.socket?.destroy(), 20);
        case "google/slow":
          res.writeHead(200, { "content-type": "application/x-tar", "content-length": 100_000 });
          res.write(Buffer.from([0x1f, 0x8b]));
          return; // never finishes
        case "google/trickle": {
          // A byte every 200 ms, forever: never idle long enough for the fetcher's idle timeout.
          res.writeHead(200, { "content-type": "application/x-tar", "content-length": 10_000_000 });
          res.write(Buffer.from([0x1f, 0x8b]));
          const drip = setInterval(() => res.write(Buffer.from([0])), 200);
          res.once("close", () => clearInterval(drip));
          return;
        }
        case "google/flaky":
          if ((hits.get(p) ?? 0) <= 2) {
            res.writeHead(503);
            return res.end("try later");
          }
          res.writeHead(302, { location: `/kaggle/google/half_plus_two@1/archive.tar.gz` });
          return res.end();
      }
      const key = handle && version ? `${handle}@${version}` : "";
      const model = FAKE_MODELS[key];
      if (!model) {
        // Kaggle answers unknown models with an HTML page and status 200.
        return send(res, Buffer.from("<!doctype html><html><body>We can't find that page.</body></html>"), "text/html");
      }
      const file = m?.[3];
      if (
        url.searchParams.get("tf-hub-format") === "compressed" &&
        (model.kind === "dir" || model.kind === "targz-file")
      ) {
        res.writeHead(302, { location: `/kaggle/${key}/archive.tar.gz` });
        return res.end();
      }
      if (url.searchParams.get("lite-format") === "tflite" && model.kind === "tflite") {
        res.writeHead(302, { location: `/kaggle/${key}/model.tflite` });
        return res.end();
      }
      if (model.kind === "tfjs" && file) {
        res.writeHead(302, { location: `/kaggle/${key}/${file}` });
        return res.end();
      }
      res.writeHead(400, { "content-type": "text/plain" });
      res.end("unsupported format query");
    })().catch((err) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.port = (server.address() as net.AddressInfo).port;
  state.base = `http://127.0.0.1:${state.port}`;
  state.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  };
  return state;
}
