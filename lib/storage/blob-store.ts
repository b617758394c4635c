// The blob store: content-addressed, immutable bytes keyed by their sha256 digest. Drivers
// (filesystem, S3) implement `BlobStore`; the layout both use is in ./layout.ts, the switch that
// picks one is in ./index.ts, and test/integration/blob-store.test.ts is the conformance suite
// every driver must pass.
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { AppError } from "../errors.ts";

/** `sha256:` followed by 64 lowercase hex digits. */
export type Digest = `sha256:${string}`;

export type BlobStat = { digest: Digest; size: number };
export type BlobListing = { digest: Digest; size: number; lastModified: Date };
export type StagingListing = { id: string; size: number; lastModified: Date };
/** Inclusive byte range: `{start: 0, end: 0}` is the first byte. */
export type ByteRange = { start: number; end: number };
export type PutOptions = { expectedDigest?: string; expectedSize?: number };
export type PutResult = { digest: Digest; size: number; created: boolean };
export type BlobSource = Readable | AsyncIterable<Uint8Array>;

export interface BlobStore {
  readonly kind: "file" | "s3";
  /** Human-readable name of the store for logs and errors, e.g. `filesystem store /data/blobs`. */
  readonly describe: string;

  /** The blob's size, or null if it is not stored. Throws InvalidDigestError for a malformed digest. */
  stat(digest: string): Promise<BlobStat | null>;

  /**
   * The blob's bytes, or only `range` (inclusive; 0 <= start <= end < size — callers resolve HTTP
   * Range semantics such as suffixes and clamping against `stat().size` first).
   * Throws BlobNotFoundError, or InvalidRangeError (details.size holds the size when known). The
   * caller must consume or destroy the stream: it holds a file descriptor or connection.
   */
  get(digest: string, opts?: { range?: ByteRange }): Promise<Readable>;

  /**
   * Streams `source` into the store, hashing as it goes (never buffering the whole object), and
   * commits it under its sha256 digest. If `expectedSize`/`expectedDigest` are given they are
   * verified first: on a mismatch nothing is committed and SizeMismatchError/DigestMismatchError
   * is thrown (a source longer than expectedSize is cut off as soon as it overflows). If the source
   * errors, SourceStreamError (with the original as `cause`) is thrown and nothing is committed.
   * Whenever put fails, it stops reading and destroys (returns) the source.
   * Committing a digest that is already stored is a no-op: `created: false`. Concurrent puts of the
   * same bytes all succeed with the same digest; at least one reports `created: true` (exactly one
   * where the backend has an atomic create-if-absent: filesystem, S3 servers honouring
   * If-None-Match). Store failures throw StoreUnavailableError.
   */
  put(source: BlobSource, opts?: PutOptions): Promise<PutResult>;

  /** Removes the blob. Idempotent: deleting a missing blob succeeds. */
  delete(digest: string): Promise<void>;

  /**
   * S3 only: a presigned GET URL for the whole blob, valid `ttlSeconds` (1 s to 7 days), served with
   * the header value `contentDisposition` as its Content-Disposition when given. Does not check that
   * the blob exists.
   */
  presignGet?(digest: string, opts: { contentDisposition?: string; ttlSeconds: number }): Promise<string>;

  /**
   * Health check for GET /healthz and start-up: resolves if the store is reachable and usable,
   * otherwise rejects with StoreUnavailableError naming the store and what failed. Settles within a
   * few seconds (never hangs).
   */
  check(): Promise<void>;

  /** Every stored blob, in no particular order (for garbage collection). Staged uploads are not listed. */
  list(): AsyncIterable<BlobListing>;

  /**
   * Staged uploads (for garbage collection): puts in progress and leftovers of crashed ones. Only
   * entries older than any put could take may be deleted; lastModified is when staging began or
   * last changed. On S3, incomplete multipart uploads of staging keys are listed too (size 0).
   */
  listStaging?(): AsyncIterable<StagingListing>;

  /** Removes a staged upload by id (and, on S3, aborts its incomplete multipart uploads). Idempotent. */
  deleteStaging?(id: string): Promise<void>;
}

// ---- digests ----

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === "string" && DIGEST_RE.test(value);
}

/** Validates a digest string; throws InvalidDigestError (400) if it is not `sha256:<64 lowercase hex>`. */
export function parseDigest(value: string): { algorithm: "sha256"; hex: string; digest: Digest } {
  if (!isDigest(value)) throw new InvalidDigestError(value);
  return { algorithm: "sha256", hex: value.slice(7), digest: value };
}

/** The digest of in-memory bytes (small inputs and tests; stores hash while streaming). */
export function computeDigest(data: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

// ---- typed errors: all AppErrors, so lib/errors.ts maps them to their status ----

export class InvalidDigestError extends AppError {
  constructor(readonly value: string) {
    super(
      "bad_request",
      `invalid digest "${value.length > 80 ? value.slice(0, 80) + "…" : value}": expected sha256:<64 lowercase hex>`,
    );
    this.name = "InvalidDigestError";
  }
}

export class BlobNotFoundError extends AppError {
  constructor(readonly digest: string) {
    super("not_found", `blob ${digest} not found`, { digest });
    this.name = "BlobNotFoundError";
  }
}

export class InvalidRangeError extends AppError {
  constructor(
    readonly range: ByteRange,
    readonly size?: number,
  ) {
    super(
      "range_not_satisfiable",
      `range ${range.start}-${range.end} not satisfiable${size === undefined ? "" : ` for ${size} bytes`}`,
      { size },
    );
    this.name = "InvalidRangeError";
  }
}

export class DigestMismatchError extends AppError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super("digest_mismatch", `digest mismatch: expected ${expected}, got ${actual}`, { expected, actual });
    this.name = "DigestMismatchError";
  }
}

/** `actual` is undefined when the source was cut off for overflowing `expected`. */
export class SizeMismatchError extends AppError {
  constructor(
    readonly expected: number,
    readonly actual?: number,
  ) {
    super("digest_mismatch", `size mismatch: expected ${expected} bytes, got ${actual ?? `more than ${expected}`}`, {
      expected,
      actual,
    });
    this.name = "SizeMismatchError";
  }
}

/**
 * The source of a put failed before its end (client disconnect, upstream reset). Code
 * upstream_error (502) suits fetches from upstream; an upload handler may map it to 400.
 */
export class SourceStreamError extends AppError {
  constructor(cause: unknown) {
    super(
      "upstream_error",
      `the byte stream failed before its end: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    this.name = "SourceStreamError";
    this.cause = cause;
  }
}

export class StoreUnavailableError extends AppError {
  constructor(store: string, what: string, cause?: unknown) {
    super("service_unavailable", `${store}: ${what}${cause === undefined ? "" : `: ${describeCause(cause)}`}`);
    this.name = "StoreUnavailableError";
    if (cause !== undefined) this.cause = cause;
  }
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as { code?: unknown }).code;
  const first = cause.message.split("\n")[0] || cause.name;
  return typeof code === "string" && !first.includes(code) ? `${first} (${code})` : first;
}

// ---- shared helpers for drivers ----

export function validateExpectations(opts: PutOptions | undefined): void {
  if (opts?.expectedDigest !== undefined) parseDigest(opts.expectedDigest);
  const size = opts?.expectedSize;
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
    throw new AppError("bad_request", `expectedSize must be a non-negative integer, got ${size}`);
  }
}

/** Rejects ranges that are malformed regardless of the blob's size. */
export function validateRangeShape(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new InvalidRangeError(range);
  }
}

/**
 * Wraps a put's source: yields its chunks as Buffers while hashing and counting them. Stops with
 * SizeMismatchError as soon as the count exceeds `expectedSize`, and turns any error of the source
 * into SourceStreamError. `failure` records which of ours ended the stream, so a driver can report
 * it even when a library in between (lib-storage) rethrows something else.
 */
export class HashingSource implements AsyncIterable<Buffer> {
  size = 0;
  failure: SizeMismatchError | SourceStreamError | undefined;
  private readonly hash = createHash("sha256");

  constructor(
    private readonly source: BlobSource,
    private readonly expectedSize?: number,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const iterator = (this.source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        let chunk: Buffer;
        try {
          const step = await iterator.next();
          if (step.done) {
            finished = true;
            return;
          }
          chunk = toBuffer(step.value);
        } catch (err) {
          throw (this.failure = new SourceStreamError(err));
        }
        this.size += chunk.length;
        if (this.expectedSize !== undefined && this.size > this.expectedSize) {
          throw (this.failure = new SizeMismatchError(this.expectedSize));
        }
        this.hash.update(chunk);
        yield chunk;
      }
    } finally {
      // Stop (for a Readable: destroy) the source if we end early, as for-await would.
      if (!finished) await iterator.return?.().catch(() => {});
    }
  }

  /** After the source ended: its digest, checked against the expectations (throws on a mismatch). */
  verify(opts: PutOptions | undefined): BlobStat {
    const digest: Digest = `sha256:${this.hash.digest("hex")}`;
    if (opts?.expectedSize !== undefined && this.size !== opts.expectedSize)
      throw new SizeMismatchError(opts.expectedSize, this.size);
    if (opts?.expectedDigest !== undefined && digest !== opts.expectedDigest)
      throw new DigestMismatchError(opts.expectedDigest, digest);
    return { digest, size: this.size };
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === "string") return Buffer.from(chunk);
  throw new TypeError(`blob source yielded ${typeof chunk}, expected bytes`);
}

/**
 * Runs `work` with an AbortSignal and rejects with `fail(cause)` if it has not settled within `ms`
 * (the work may keep running in the background; the signal tells it to stop).
 */
export async function withDeadline<T>(
  ms: number,
  work: (signal: AbortSignal) => Promise<T>,
  fail: (cause: unknown) => Error,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), timeout]);
  } catch (err) {
    throw fail(err);
  } finally {
    clearTimeout(timer);
  }
}
