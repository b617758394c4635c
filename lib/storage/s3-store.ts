// S3 driver (AWS S3 and S3-compatible servers such as Ceph radosgw): blobs are objects under
// `<prefix>/`, laid out as in ./layout.ts.
//
// put: the digest is only known after hashing, so the bytes are streamed (multipart, lib-storage
// Upload) to a staging key, verified, then server-side copied to the blob key and the staging key
// deleted. The copy is CopyObject up to 5 GiB (its limit) and UploadPartCopy above. An existing
// blob is detected with HeadObject before copying (saves the copy for re-uploads, and is the only
// guard on servers that ignore conditional writes) and with `If-None-Match: *` on the copy itself
// (412 = another put committed it first). Crashed processes can leave staging objects and
// incomplete multipart uploads behind: give the bucket a lifecycle rule that expires
// `<prefix>/v1/staging/` and aborts incomplete multipart uploads after a day.
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
  UploadPartCopyCommand,
  paginateListObjectsV2,
  type BucketLocationConstraint,
  type CompletedPart,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { AppError } from "../errors.ts";
import {
  BlobNotFoundError,
  HashingSource,
  InvalidRangeError,
  StoreUnavailableError,
  parseDigest,
  validateExpectations,
  validateRangeShape,
  withDeadline,
  type BlobListing,
  type BlobSource,
  type BlobStat,
  type BlobStore,
  type ByteRange,
  type PutOptions,
  type PutResult,
  type StagingListing,
} from "./blob-store.ts";
import { BLOBS_DIR, STAGING_DIR, blobPath, digestFromBlobPath, stagingIdFromPath, stagingPath } from "./layout.ts";

/** Client settings; the shape of `env.s3`. */
export type S3Options = {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
};

export type S3BlobStoreOptions = S3Options & {
  /** `s3://bucket[/prefix]` */
  url: string;
  /** Blobs larger than this are committed with UploadPartCopy (default 5 GiB, CopyObject's limit). */
  multipartCopyThreshold?: number;
  /** Part size for UploadPartCopy (default 512 MiB, at least 5 MiB). */
  copyPartSize?: number;
};

const MiB = 1024 ** 2;
const COPY_OBJECT_LIMIT = 5 * 1024 ** 3;
const MIN_PART = 5 * MiB;
const CHECK_DEADLINE_MS = 3000;
const UPLOAD_QUEUE = 2;

const statusOf = (err: unknown) =>
  (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
const nameOf = (err: unknown) => (err instanceof Error ? err.name : "");

export function parseS3Url(url: string): { bucket: string; prefix: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`invalid S3 URL "${url}": expected s3://bucket[/prefix]`);
  }
  if (u.protocol !== "s3:" || !u.hostname) throw new Error(`invalid S3 URL "${url}": expected s3://bucket[/prefix]`);
  return { bucket: u.hostname, prefix: decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, "") };
}

/**
 * Upload part size: 8 MiB (up to 80 GB with S3's 10,000 parts) or more when the size is known to be
 * larger. lib-storage holds about UPLOAD_QUEUE + 2 parts in memory (parts in flight plus the one
 * being assembled), so a put retains about 40 MB whatever the blob's size.
 */
function partSizeFor(expectedSize: number | undefined): number {
  return Math.max(8 * MiB, Math.ceil((expectedSize ?? 0) / 9000));
}

async function* take(body: Readable, length: number): AsyncGenerator<Buffer> {
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (chunk.length >= length) {
      yield chunk.subarray(0, length);
      return; // ends the loop, which destroys `body`
    }
    length -= chunk.length;
    yield chunk;
  }
}

export class S3BlobStore implements BlobStore {
  readonly kind = "s3" as const;
  readonly describe: string;
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  private readonly region: string;
  private readonly multipartCopyThreshold: number;
  private readonly copyPartSize: number;
  // Cleared the first time the server answers a conditional write with 501 NotImplemented; from
  // then on the HeadObject before the copy is the only existence check.
  private conditionalWrites = true;

  constructor(opts: S3BlobStoreOptions) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Url(opts.url));
    this.region = opts.region;
    this.multipartCopyThreshold = Math.min(opts.multipartCopyThreshold ?? COPY_OBJECT_LIMIT, COPY_OBJECT_LIMIT);
    this.copyPartSize = Math.max(opts.copyPartSize ?? 512 * MiB, MIN_PART);
    this.describe = `S3 store s3://${this.bucket}/${this.prefix} at ${opts.endpoint ?? `AWS ${opts.region}`}`;
    const agent = { keepAlive: true, maxSockets: 256 };
    this.client = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle,
      credentials:
        opts.accessKeyId && opts.secretAccessKey
          ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey }
          : undefined,
      // Newer SDKs add CRC32 checksums by default, which many S3-compatible servers reject or store
      // inside the object (s3rver). Only send/validate checksums where the API requires them.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      // A server that stops answering fails the request after 2 minutes of silence instead of
      // hanging a put or download forever.
      requestHandler: { connectionTimeout: 5000, socketTimeout: 120_000, httpAgent: agent, httpsAgent: agent },
    });
  }

  /** The object key of a layout path. */
  key(rel: string): string {
    return this.prefix ? `${this.prefix}/${rel}` : rel;
  }

  private copySource(key: string): string {
    return `${this.bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  }

  private unavailable(what: string, err: unknown): AppError {
    return err instanceof AppError ? err : new StoreUnavailableError(this.describe, what, err);
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  async stat(digest: string): Promise<BlobStat | null> {
    const Key = this.key(blobPath(digest));
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { digest: parseDigest(digest).digest, size: res.ContentLength ?? 0 };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw this.unavailable(`HeadObject ${digest} failed`, err);
    }
  }

  async get(digest: string, opts?: { range?: ByteRange }): Promise<Readable> {
    const Key = this.key(blobPath(digest));
    const range = opts?.range;
    if (range) validateRangeShape(range);
    let res;
    try {
      res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
    } catch (err) {
      if (statusOf(err) === 404 || nameOf(err) === "NoSuchKey") throw new BlobNotFoundError(digest);
      if (range && (statusOf(err) === 416 || nameOf(err) === "InvalidRange")) {
        throw new InvalidRangeError(range, (await this.stat(digest).catch(() => null))?.size);
      }
      throw this.unavailable(`GetObject ${digest} failed`, err);
    }
    const body = (res.Body as Readable | undefined) ?? Readable.from([]);
    if (range) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.ContentRange ?? "");
      const [start, end, size] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [];
      if (start !== range.start || end === undefined || size === undefined || end < range.end || range.end >= size) {
        body.destroy();
        if (!m) throw new StoreUnavailableError(this.describe, `GetObject ${digest} ignored the Range header`);
        // S3 clamps an end past the last byte; this store's contract rejects it, like the fs driver.
        throw new InvalidRangeError(range, size);
      }
      // More than asked for (s3rver answers bytes=0-0 with the whole object): pass on only the range.
      if (end > range.end) return Readable.from(take(body, range.end - range.start + 1), { objectMode: false });
    }
    return body;
  }

  async put(source: BlobSource, opts?: PutOptions): Promise<PutResult> {
    validateExpectations(opts);
    const stagingKey = this.key(stagingPath(randomUUID()));
    const hashing = new HashingSource(source, opts?.expectedSize);
    const body = Readable.from(hashing, { objectMode: false, highWaterMark: MiB });
    try {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: stagingKey, Body: body, ContentType: "application/octet-stream" },
        partSize: partSizeFor(opts?.expectedSize),
        queueSize: UPLOAD_QUEUE,
        leavePartsOnError: false, // abort the multipart upload on any error
      });
      try {
        await upload.done();
      } catch (err) {
        body.destroy();
        await this.abortUploads(stagingKey);
        // Report our own failure (source error, size overflow) rather than what lib-storage rethrew.
        throw hashing.failure ?? this.unavailable("uploading to the staging area failed", err);
      }
      const { digest, size } = hashing.verify(opts);
      const created = await this.commit(stagingKey, this.key(blobPath(digest)), size);
      return { digest, size, created };
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: stagingKey })).catch(() => {});
    }
  }

  // lib-storage aborts its multipart upload on error, but the abort itself can fail; sweep once more
  // so no incomplete upload (invisible, but billed and holding space) remains. Best effort: some
  // servers (s3rver) do not implement ListMultipartUploads.
  private async abortUploads(key: string): Promise<void> {
    try {
      const res = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key }));
      for (const u of res.Uploads ?? []) {
        if (u.Key === key && u.UploadId) {
          await this.client.send(
            new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: u.UploadId }),
          );
        }
      }
    } catch {
      // ignored
    }
  }

  /** Copies a verified staging object to its blob key; false if the blob already existed. */
  private async commit(stagingKey: string, finalKey: string, size: number): Promise<boolean> {
    try {
      if (await this.exists(finalKey)) return false;
      if (size > this.multipartCopyThreshold) await this.copyMultipart(stagingKey, finalKey, size);
      else await this.copyObject(stagingKey, finalKey);
      return true;
    } catch (err) {
      // 412: If-None-Match failed, a concurrent put committed it first. 409 (AWS
      // ConditionalRequestConflict): a concurrent conditional write is in flight; it exists if it won.
      if (statusOf(err) === 412) return false;
      // 409, or a 5xx from a server whose concurrent writes of one key collide (s3rver answers 500):
      // the key is the digest, so if the blob is there now it holds these very bytes.
      const status = statusOf(err);
      if (
        (status === 409 || (status !== undefined && status >= 500)) &&
        (await this.exists(finalKey).catch(() => false))
      )
        return false;
      throw this.unavailable(`committing ${finalKey} failed`, err);
    }
  }

  private async withConditional<T>(send: (conditional: { IfNoneMatch?: string }) => Promise<T>): Promise<T> {
    if (!this.conditionalWrites) return send({});
    try {
      return await send({ IfNoneMatch: "*" });
    } catch (err) {
      if (statusOf(err) !== 501 && nameOf(err) !== "NotImplemented") throw err;
      this.conditionalWrites = false;
      return send({});
    }
  }

  private async copyObject(stagingKey: string, finalKey: string): Promise<void> {
    await this.withConditional((cond) =>
      this.client.send(
        new CopyObjectCommand({ Bucket: this.bucket, Key: finalKey, CopySource: this.copySource(stagingKey), ...cond }),
      ),
    );
  }

  private async copyMultipart(stagingKey: string, finalKey: string, size: number): Promise<void> {
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: finalKey, ContentType: "application/octet-stream" }),
    );
    try {
      const count = Math.ceil(size / this.copyPartSize);
      const parts: CompletedPart[] = new Array(count);
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const i = next++;
          const start = i * this.copyPartSize;
          const end = Math.min(size, start + this.copyPartSize) - 1;
          const res = await this.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: finalKey,
              UploadId,
              PartNumber: i + 1,
              CopySource: this.copySource(stagingKey),
              CopySourceRange: `bytes=${start}-${end}`,
            }),
          );
          parts[i] = { PartNumber: i + 1, ETag: res.CopyPartResult?.ETag };
        }
      };
      await Promise.all(Array.from({ length: Math.min(4, count) }, worker));
      await this.withConditional((cond) =>
        this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: finalKey,
            UploadId,
            MultipartUpload: { Parts: parts },
            ...cond,
          }),
        ),
      );
    } catch (err) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: finalKey, UploadId }))
        .catch(() => {});
      throw err;
    }
  }

  async delete(digest: string): Promise<void> {
    const Key = this.key(blobPath(digest));
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw this.unavailable(`DeleteObject ${digest} failed`, err);
    }
  }

  async presignGet(digest: string, opts: { contentDisposition?: string; ttlSeconds: number }): Promise<string> {
    const Key = this.key(blobPath(digest));
    if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds < 1 || opts.ttlSeconds > 7 * 24 * 3600) {
      throw new AppError("bad_request", `ttlSeconds must be an integer from 1 to 604800, got ${opts.ttlSeconds}`);
    }
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key,
      ResponseContentDisposition: opts.contentDisposition || undefined,
    });
    return getSignedUrl(this.client, command, { expiresIn: opts.ttlSeconds });
  }

  async check(): Promise<void> {
    await withDeadline(
      CHECK_DEADLINE_MS,
      (abortSignal) => this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal }),
      (cause) => {
        const status = statusOf(cause);
        if (status === 404) return new StoreUnavailableError(this.describe, `bucket "${this.bucket}" does not exist`);
        if (status === 403 || status === 401) {
          return new StoreUnavailableError(
            this.describe,
            `access to bucket "${this.bucket}" denied (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)`,
          );
        }
        return new StoreUnavailableError(this.describe, "HeadBucket failed", cause);
      },
    );
  }

  async *list(): AsyncGenerator<BlobListing> {
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    try {
      for await (const page of paginateListObjectsV2(
        { client: this.client },
        { Bucket: this.bucket, Prefix: this.key(BLOBS_DIR) + "/" },
      )) {
        for (const o of page.Contents ?? []) {
          const digest = o.Key ? digestFromBlobPath(o.Key.slice(strip)) : null;
          if (digest) yield { digest, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
        }
      }
    } catch (err) {
      throw this.unavailable("listing blobs failed", err);
    }
  }

  async *listStaging(): AsyncGenerator<StagingListing> {
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    const prefix = this.key(STAGING_DIR) + "/";
    const seen = new Set<string>();
    try {
      for await (const page of paginateListObjectsV2(
        { client: this.client },
        { Bucket: this.bucket, Prefix: prefix },
      )) {
        for (const o of page.Contents ?? []) {
          const id = o.Key ? stagingIdFromPath(o.Key.slice(strip)) : null;
          if (id && !seen.has(id)) {
            seen.add(id);
            yield { id, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
          }
        }
      }
    } catch (err) {
      throw this.unavailable("listing the staging area failed", err);
    }
    let uploads;
    try {
      uploads = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix }));
    } catch {
      return; // not implemented by every server (s3rver)
    }
    // One page (1000) is enough per sweep: deleting them lets the next sweep see the rest.
    for (const u of uploads.Uploads ?? []) {
      const id = u.Key ? stagingIdFromPath(u.Key.slice(strip)) : null;
      if (id && !seen.has(id)) {
        seen.add(id);
        yield { id, size: 0, lastModified: u.Initiated ?? new Date(0) };
      }
    }
  }

  async deleteStaging(id: string): Promise<void> {
    const Key = this.key(stagingPath(id));
    await this.abortUploads(Key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (statusOf(err) !== 404) throw this.unavailable(`deleting staged upload ${id} failed`, err);
    }
  }

  /**
   * Creates the bucket if it does not exist. Not called by the store itself (provisioning is the
   * operator's job); for tests and an explicit setup command.
   */
  async ensureBucket(): Promise<void> {
    try {
      const outsideUsEast1 = this.region !== "us-east-1";
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          CreateBucketConfiguration: outsideUsEast1
            ? { LocationConstraint: this.region as BucketLocationConstraint }
            : undefined,
        }),
      );
    } catch (err) {
      // BucketAlreadyOwnedByYou, or BucketAlreadyExists on servers that answer that to the owner.
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      } catch {
        throw this.unavailable(`creating bucket "${this.bucket}" failed`, err);
      }
    }
  }

  /** Closes the client's sockets. */
  destroy(): void {
    this.client.destroy();
  }
}
