// The one streaming reader for model archives (tar, or tar.gz). Every archive Hubkeep reads goes
// through it, and it refuses, each with its own reason:
//  - entry types other than regular files and directories (symlinks, hard links, devices, FIFOs),
//    and entries with setuid or setgid bits, or files with the sticky bit;
//  - absolute paths, drive letters, ".." after normalisation, NUL bytes;
//  - names that collide after Unicode normalisation (NFC) or case folding, and duplicates;
//  - more than `maxEntries` entries, paths deeper than `maxDepth`, more than `maxTotalBytes`
//    uncompressed, or a decompression ratio above `maxRatio`:1;
// each as soon as it is crossed: entries and sizes from each tar header before its data is read, the
// ratio on every chunk gunzip produces, against the compressed bytes gunzip has consumed so far (after
// a small allowance), so a bomb stops after a few MB of output rather than after all of it.
//  - truncated or corrupt gzip or tar data.
import type { Readable } from "node:stream";
import { PassThrough, Readable as ReadableStream } from "node:stream";
import zlib from "node:zlib";
import tar from "tar-stream";
import { AppError } from "../errors.ts";
import { getEnv } from "../env.ts";

export type ArchiveLimits = {
  maxEntries?: number;
  maxDepth?: number;
  maxTotalBytes?: number;
  maxRatio?: number;
  ratioAllowanceBytes?: number;
};

/** Real models have tens to a few thousand files and compress a few to one; these are generous. */
export const DEFAULT_LIMITS: Required<ArchiveLimits> = {
  maxEntries: 10_000,
  maxDepth: 32,
  maxTotalBytes: 64 * 1024 ** 3,
  maxRatio: 200,
  // Output below this is never refused for its ratio: tar headers and small, sparse files compress well.
  ratioAllowanceBytes: 8 * 1024 * 1024,
};

/** The defaults, with HUBKEEP_ARCHIVE_MAX_ENTRIES and HUBKEEP_ARCHIVE_MAX_RATIO applied. */
export function configuredLimits(): Required<ArchiveLimits> {
  const { archive } = getEnv();
  return { ...DEFAULT_LIMITS, maxEntries: archive.maxEntries, maxRatio: archive.maxRatio };
}

/** A refusal, with the reason in words an ML engineer understands. */
export class ArchiveError extends AppError {
  constructor(
    message: string,
    readonly reason:
      | "entry_type"
      | "mode"
      | "path"
      | "collision"
      | "entries"
      | "depth"
      | "size"
      | "ratio"
      | "corrupt"
      | "not_archive"
      | "empty"
      | "aborted",
  ) {
    super("unprocessable_entity", message);
    this.name = "ArchiveError";
  }
}

const TYPE_NAMES: Record<string, string> = {
  symlink: "a symlink: links are not allowed",
  link: "a hard link: links are not allowed",
  "character-device": "a character device: devices are not allowed",
  "block-device": "a block device: devices are not allowed",
  fifo: "a FIFO: only files and directories are allowed",
  "contiguous-file": "a contiguous file: only regular files and directories are allowed",
};

/** Normalises an entry name to a relative path, or throws naming what is wrong with it. */
export function normaliseEntryName(name: string): string {
  if (name.includes("\0"))
    throw new ArchiveError(`archive entry ${JSON.stringify(name)} has a NUL byte in its name`, "path");
  let p = name.replace(/\\/g, "/");
  if (p.startsWith("/")) throw new ArchiveError(`archive entry '${name}' has an absolute path`, "path");
  if (/^[a-zA-Z]:/.test(p)) throw new ArchiveError(`archive entry '${name}' has a drive-letter path`, "path");
  p = p.replace(/\/+$/, "");
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") throw new ArchiveError(`archive entry '${name}' escapes the archive with '..'`, "path");
    out.push(seg);
  }
  return out.join("/");
}

export type ArchiveEntry = { path: string; size: number; stream: Readable };

/**
 * Streams `source` entry by entry. `onFile` must consume (or resume) each file's stream. Directories
 * are checked and reported through `onDirectory`. Throws ArchiveError on any refusal.
 */
export async function readArchive(
  source: AsyncIterable<Buffer> | Readable,
  onFile: (entry: ArchiveEntry) => Promise<void>,
  opts: { limits?: ArchiveLimits; onDirectory?: (path: string) => Promise<void>; signal?: AbortSignal } = {},
): Promise<{ entries: number; files: number; totalBytes: number; compressedBytes: number }> {
  const limits = { ...configuredLimits(), ...opts.limits };
  const iterator = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  // Refusing early must still release the source (a file descriptor, a socket).
  const release = () => void Promise.resolve(iterator.return?.()).catch(() => {});
  const first = await iterator.next();
  if (first.done || first.value.length === 0) {
    release();
    throw new ArchiveError("the archive is empty", "empty");
  }
  const head = Buffer.from(first.value);
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  if (!gzip && !(head.length >= 262 && head.subarray(257, 262).toString("latin1") === "ustar")) {
    const shown = head
      .subarray(0, 48)
      .toString("utf8")
      .replace(/[^\x20-\x7e]/g, ".");
    release();
    throw new ArchiveError(`not a tar or tar.gz archive (it starts with "${shown}")`, "not_archive");
  }
  let compressedBytes = 0;
  async function* raw() {
    compressedBytes += head.length;
    yield head;
    for (;;) {
      const n = await iterator.next();
      if (n.done) return;
      compressedBytes += n.value.length;
      yield n.value;
    }
  }
  const input = ReadableStream.from(raw());
  const extract = tar.extract();
  const seen = new Map<string, string>();
  let entries = 0;
  let files = 0;
  let totalBytes = 0;
  let inflated = 0;

  const gunzip = gzip ? zlib.createGunzip() : null;
  const checkRatio = () => {
    // Against what gunzip has consumed (its bytesWritten), not what was read ahead of it.
    const consumed = gunzip ? gunzip.bytesWritten : inflated;
    if (inflated > limits.ratioAllowanceBytes && inflated > limits.maxRatio * Math.max(consumed, 1)) {
      throw new ArchiveError(
        `the archive decompresses more than ${limits.maxRatio}:1 (${inflated} bytes from the first ${consumed} compressed bytes): refused as a decompression bomb (limit HUBKEEP_ARCHIVE_MAX_RATIO)`,
        "ratio",
      );
    }
  };

  // The entry being handled: on failure it must settle before we report, or a consumer still writing
  // (e.g. creating a folder) would race the caller's cleanup.
  let inFlight: Promise<void> = Promise.resolve();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      // Destroying the extractor (a gunzip error, a refusal) destroys the current entry stream with
      // that error. If its consumer already saw the entry end, nobody listens any more and the
      // error would escape as an uncaught exception; the outcome is reported through `done`.
      stream.on("error", () => {});
      inFlight = (async () => {
        entries++;
        if (entries > limits.maxEntries)
          throw new ArchiveError(
            `the archive has more than ${limits.maxEntries} entries (limit HUBKEEP_ARCHIVE_MAX_ENTRIES)`,
            "entries",
          );
        const path = normaliseEntryName(header.name);
        const type = header.type ?? "file";
        if (type !== "file" && type !== "directory") {
          throw new ArchiveError(
            `archive entry '${header.name}' is ${TYPE_NAMES[type] ?? `of type ${type}: only files and directories are allowed`}`,
            "entry_type",
          );
        }
        // setuid and setgid anywhere, and sticky on a file, are refused. A sticky directory is not:
        // tfhub.dev's own archives carry it (half_plus_two v1: `assets/` and `variables/` are 01755),
        // and Hubkeep never applies an archive's modes (it extracts 0700/0600).
        const special = (header.mode ?? 0) & (type === "directory" ? 0o6000 : 0o7000);
        if (special) {
          const bits = [
            special & 0o4000 ? "setuid" : "",
            special & 0o2000 ? "setgid" : "",
            special & 0o1000 ? "sticky" : "",
          ]
            .filter(Boolean)
            .join(", ");
          throw new ArchiveError(
            `archive entry '${header.name}' has mode 0${((header.mode ?? 0) & 0o7777).toString(8)} (${bits}): special permission bits are not allowed`,
            "mode",
          );
        }
        const depth = path === "" ? 0 : path.split("/").length;
        if (depth > limits.maxDepth)
          throw new ArchiveError(
            `archive entry '${header.name}' is nested ${depth} levels deep (limit ${limits.maxDepth})`,
            "depth",
          );
        if (type === "directory") {
          stream.resume();
          if (path) await opts.onDirectory?.(path);
          return;
        }
        if (!path) throw new ArchiveError(`archive entry '${header.name}' has an empty name`, "path");
        const key = path.normalize("NFC").toLowerCase();
        const clash = seen.get(key);
        if (clash !== undefined) {
          throw new ArchiveError(
            clash === path
              ? `archive entry '${path}' appears twice`
              : `archive entries '${clash}' and '${path}' collide (same name after Unicode normalisation or case folding)`,
            "collision",
          );
        }
        seen.set(key, path);
        totalBytes += header.size ?? 0;
        if (totalBytes > limits.maxTotalBytes)
          throw new ArchiveError(
            `the archive expands to more than ${limits.maxTotalBytes} bytes (entry '${path}' declares ${header.size} bytes)`,
            "size",
          );
        files++;
        // Consumers get a Node stream: tar-stream's own entry streams, destroyed before a consumer
        // attached (an archive failing while the consumer was still creating its folder), would
        // leave Node's pipeline waiting forever. This one reports every early end as an error.
        const entry = new PassThrough();
        stream.on("error", (e: Error) => entry.destroy(e));
        stream.on("close", () => {
          if (!entry.writableEnded)
            entry.destroy(new ArchiveError(`the archive ended inside entry '${path}'`, "corrupt"));
        });
        stream.pipe(entry);
        try {
          await onFile({ path, size: header.size ?? 0, stream: entry });
        } catch (err) {
          entry.destroy();
          throw err;
        }
      })().then(
        () => next(),
        (err) => {
          stream.resume();
          extract.destroy(err);
        },
      );
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });

  const decoded = gunzip ? input.pipe(gunzip) : input;
  // A job past its time budget (or a worker stopping) aborts the read.
  const onAbort = () => {
    const why = opts.signal?.reason;
    extract.destroy(
      why instanceof AppError
        ? why
        : new ArchiveError(
            `reading the archive was stopped: ${why instanceof Error ? why.message : "aborted"}`,
            "aborted",
          ),
    );
    decoded.destroy();
  };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });
  // Late errors (a gunzip error after the tar side already failed or finished) must not escape as
  // uncaught exceptions: the outcome is decided by `done` below.
  const ignore = () => {};
  let settled = false;
  extract.on("error", ignore);
  decoded.on("error", ignore);
  input.on("error", ignore);
  decoded.on("data", (c: Buffer) => {
    inflated += c.length;
    try {
      checkRatio();
    } catch (err) {
      extract.destroy(err as Error);
      decoded.destroy();
    }
  });
  decoded.on("error", (err: Error) => {
    // Once the outcome is decided, a late gunzip error must not become an error on the tar side:
    // it would reach an entry stream nobody listens to any more.
    if (settled) extract.destroy();
    else if (!extract.destroyed)
      extract.destroy(new ArchiveError(`the archive is corrupt or truncated: ${err.message}`, "corrupt"));
  });
  decoded.pipe(extract);
  try {
    await done.finally(() => {
      settled = true;
      opts.signal?.removeEventListener("abort", onAbort);
    });
  } catch (err) {
    // Destroying `input` ends the source through its generator; releasing the source here as well
    // raced the gunzip side into a late error with no listener.
    input.destroy();
    await inFlight.catch(() => {});
    if (err instanceof AppError) throw err;
    throw new ArchiveError(`the archive is corrupt or truncated: ${(err as Error).message}`, "corrupt");
  }
  if (files === 0) throw new ArchiveError("the archive holds no files", "empty");
  return { entries, files, totalBytes, compressedBytes };
}
