// Uploads: a publisher's own model version, streamed straight into the blob store (never buffered
// whole), recognised (a SavedModel / TF1 Hub / TF.js tar.gz, or a .tflite), published as `pending`
// and queued for the same validation and approval as a mirrored version.
import { Readable } from "node:stream";
import { AppError } from "../errors.ts";
import { isVersionNumber } from "../handle-path.ts";
import { getBlobStore } from "../storage/index.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import { checkHandle } from "../upstream/handles.ts";
import { checkManifestPath } from "../formats/tfjs.ts";
import { detectFormat, isSavedModel, isTfjs, isTfliteHead, type KnownFormat } from "../formats/format.ts";
import { actorUserId, type Principal } from "../auth/principal.ts";
import { storeArchiveEntries, type ArchiveFile } from "./store-archive-entries.ts";
import { publishVersion, type PublishedVersion } from "./versions.ts";
import { discardUnreferencedBlobs } from "./gc.ts";
import { enqueueValidation } from "./validation-job.ts";
import { announceQuotaExceeded, checkHeadroom, quotaExceeded, quotaHeadroom } from "./quotas.ts";

export type UploadInput = {
  handle: string;
  version: number;
  body: AsyncIterable<Uint8Array> | null;
  /** The request's Content-Length, when it sent one (checked against the limit before reading). */
  contentLength: number | null;
  maxBytes: number;
  actor: Principal;
  ip?: string | null;
  store?: BlobStore;
};

/** What the first bytes of a refused upload look like, for the 422 message. */
export function describeBytes(head: Buffer): string {
  if (head.length === 0) return "an empty body";
  if (head.subarray(0, 4).toString("latin1") === "PK\x03\x04") return "a ZIP archive (upload a .tar.gz instead)";
  if (head.subarray(0, 3).toString("latin1") === "BZh") return "a bzip2 file (upload a .tar.gz instead)";
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])))
    return "an xz file (upload a .tar.gz instead)";
  if (head.subarray(0, 4).toString("latin1") === "\x89HDF")
    return "an HDF5 file (a Keras .h5: export a SavedModel instead)";
  const text = head.subarray(0, 40).toString("utf8");
  // Printable ASCII and tab, newline, carriage return: a text file.
  // eslint-disable-next-line no-control-regex
  if (/^[\x09\x0a\x0d\x20-\x7e]+$/.test(text)) return `text starting "${text.replace(/\s+/g, " ").trim()}"`;
  return `${head.length >= 8 ? "binary data" : "a few bytes"} starting 0x${head.subarray(0, 8).toString("hex")}`;
}

async function readHead(store: BlobStore, digest: string, size: number): Promise<Buffer> {
  if (size === 0) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of await store.get(digest, { range: { start: 0, end: Math.min(511, size - 1) } }))
    chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

async function readSmallBlob(store: BlobStore, digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.get(digest)) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

type Recognised = { format: KnownFormat; files: ArchiveFile[] };

/** Recognises a stored upload, storing an archive's files as blobs of their own. */
async function recognise(
  store: BlobStore,
  primary: { digest: string; size: number },
  created: string[],
): Promise<Recognised> {
  const head = await readHead(store, primary.digest, primary.size);
  if (isTfliteHead(head)) {
    return { format: "tflite", files: [{ path: "model.tflite", digest: primary.digest, size: primary.size }] };
  }
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const tar = head.length >= 262 && head.subarray(257, 262).toString("latin1") === "ustar";
  if (!gzip && !tar)
    throw new AppError(
      "unprocessable_entity",
      `not a model archive (.tar.gz of a SavedModel, TF1 Hub module or TF.js model) or a .tflite file: found ${describeBytes(head)}`,
    );
  const files = await storeArchiveEntries(await store.get(primary.digest), store, {
    onStored: (r) => r.created && created.push(r.digest),
  });
  const paths = new Set(files.map((f) => f.path));
  const detected = detectFormat({ paths });
  if (isSavedModel(detected.format)) return { format: detected.format, files };
  const manifest = files.find((f) => f.path === "model.json");
  if (isTfjs(detected.format) && manifest) {
    if (manifest.size > 64 * 1024 * 1024)
      throw new AppError("unprocessable_entity", "model.json is larger than 64 MiB");
    let json: { format?: unknown; weightsManifest?: Array<{ paths?: unknown }> };
    try {
      json = JSON.parse((await readSmallBlob(store, manifest.digest)).toString("utf8"));
    } catch {
      throw new AppError("unprocessable_entity", "the archive's model.json is not JSON");
    }
    const shards = (json.weightsManifest ?? []).flatMap((g) =>
      Array.isArray(g.paths) ? g.paths.map((p) => checkManifestPath(String(p))) : [],
    );
    const missing = shards.filter((s) => !paths.has(s));
    if (missing.length)
      throw new AppError(
        "unprocessable_entity",
        `model.json names weight files the archive does not hold: ${missing.slice(0, 5).join(", ")}`,
      );
    const tfjs = detectFormat({ paths, modelJson: () => json }).format;
    return { format: isTfjs(tfjs) ? tfjs : detected.format, files };
  }
  const found = [...paths].slice(0, 8).join(", ");
  throw new AppError(
    "unprocessable_entity",
    `the archive has no saved_model.pb or model.json at its root (found ${found || "no files"}${paths.size > 8 ? ", …" : ""})`,
  );
}

/**
 * Stores and publishes an uploaded version. The same bytes again are an idempotent success
 * (`created: false`); other bytes for an existing version are a 409; over `maxBytes` is a 413,
 * decided from Content-Length before reading when there is one, and otherwise as the bytes arrive.
 * Nothing is left behind on a refusal.
 */
/**
 * A refused request's unread body is read and discarded (up to this much) before the answer, so the
 * client, still sending, gets the 413 instead of a reset connection. Beyond it the connection closes.
 */
export const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

async function drain(it: AsyncIterator<Uint8Array>, cap: number): Promise<void> {
  let n = 0;
  for (;;) {
    const r = await it.next().catch(() => ({ done: true as const, value: undefined }));
    if (r.done) return;
    n += r.value.length;
    if (n > cap) {
      await it.return?.().catch(() => {});
      return;
    }
  }
}

/** Discards (up to DRAIN_LIMIT_BYTES of) a request body that will not be used, e.g. before a 401/403. */
export async function discardBody(body: AsyncIterable<Uint8Array> | null): Promise<void> {
  if (body) await drain(body[Symbol.asyncIterator](), DRAIN_LIMIT_BYTES);
}

export async function uploadVersion(input: UploadInput): Promise<PublishedVersion> {
  try {
    return await storeUpload(input);
  } catch (err) {
    await announceQuotaExceeded(err, input.handle).catch(() => {});
    throw err;
  }
}

async function storeUpload(input: UploadInput): Promise<PublishedVersion> {
  const it = input.body?.[Symbol.asyncIterator]() ?? null;
  const refuse = async (err: AppError): Promise<never> => {
    if (it) await drain(it, DRAIN_LIMIT_BYTES);
    throw err;
  };
  let handle: string;
  try {
    handle = checkHandle(input.handle);
  } catch (err) {
    return refuse(err as AppError);
  }
  if (!isVersionNumber(input.version))
    return refuse(new AppError("unprocessable_entity", `version must be a positive integer, got ${input.version}`));
  if (input.contentLength !== null && input.contentLength > input.maxBytes) {
    return refuse(
      new AppError(
        "payload_too_large",
        `the upload is ${input.contentLength} bytes; the limit is ${input.maxBytes} (HUBKEEP_MAX_UPLOAD_BYTES)`,
      ),
    );
  }
  // The namespace's quota refuses early too: from Content-Length before reading, else as bytes
  // arrive. (publishVersion's check, with the extracted files counted, has the final word.)
  const headroom = await quotaHeadroom(handle);
  if (input.contentLength !== null) {
    try {
      checkHeadroom(headroom, input.contentLength);
    } catch (err) {
      return refuse(err as AppError);
    }
  }
  if (!it || input.contentLength === 0)
    throw new AppError("unprocessable_entity", "the request has no body: send the model's .tar.gz or .tflite");
  const store = input.store ?? getBlobStore();
  let received = 0;
  let refusal: AppError | null = null;
  const limit = input.maxBytes;
  async function* limited() {
    for (;;) {
      const r = await it!.next();
      if (r.done) return;
      received += r.value.length;
      if (received > limit)
        refusal = new AppError(
          "payload_too_large",
          `the upload is over the limit of ${limit} bytes (HUBKEEP_MAX_UPLOAD_BYTES)`,
        );
      else if (headroom && received > headroom.remaining) refusal = quotaExceeded(headroom, received);
      if (refusal) {
        await drain(it!, DRAIN_LIMIT_BYTES);
        throw refusal;
      }
      yield r.value;
    }
  }
  const created: string[] = [];
  try {
    let primary: { digest: string; size: number };
    try {
      const put = await store.put(
        Readable.from(limited()),
        input.contentLength !== null ? { expectedSize: input.contentLength } : undefined,
      );
      if (put.created) created.push(put.digest);
      primary = put;
    } catch (err) {
      // The store reports the stream's failure its own way: the refusal is the answer.
      throw (refusal as AppError | null) ?? err;
    }
    if (primary.size === 0) throw new AppError("unprocessable_entity", "the upload is empty");
    const recognised = await recognise(store, primary, created);
    const version = await publishVersion({
      handle,
      version: input.version,
      format: recognised.format,
      source: { kind: "upload", userId: actorUserId(input.actor) },
      primary,
      files: recognised.files,
      actor: input.actor,
      ip: input.ip,
    });
    if (version.created) await enqueueValidation(version.id);
    else await discardUnreferencedBlobs(created, store).catch(() => {});
    return version;
  } catch (err) {
    await discardUnreferencedBlobs(created, store).catch(() => {});
    throw err;
  }
}
