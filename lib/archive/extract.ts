// Safe extraction for validation: every archive is unpacked only into a fresh private temp
// directory (mode 0700), through readArchive's checks, and removed again whatever happens.
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { readArchive, type ArchiveLimits } from "./read-archive.ts";

export type Extracted = { dir: string; files: Array<{ path: string; size: number }>; cleanup(): Promise<void> };

export async function extractArchive(
  source: Readable | AsyncIterable<Buffer>,
  opts: { limits?: ArchiveLimits; parentDir?: string; signal?: AbortSignal } = {},
): Promise<Extracted> {
  const dir = await fsp.mkdtemp(path.join(opts.parentDir ?? os.tmpdir(), "hubkeep-extract-"));
  await fsp.chmod(dir, 0o700);
  const cleanup = () => fsp.rm(dir, { recursive: true, force: true });
  const files: Array<{ path: string; size: number }> = [];
  try {
    await readArchive(
      source,
      async ({ path: rel, size, stream }) => {
        const target = path.join(dir, rel);
        // readArchive already refused '..' and absolute names; this is the belt to those braces.
        if (!target.startsWith(dir + path.sep))
          throw new Error(`refusing to write outside the extraction directory: ${rel}`);
        await fsp.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
        // 'wx': never follow or replace anything already there.
        await pipeline(stream, fs.createWriteStream(target, { flags: "wx", mode: 0o600 }));
        files.push({ path: rel, size });
      },
      {
        limits: opts.limits,
        signal: opts.signal,
        onDirectory: async (rel) => void (await fsp.mkdir(path.join(dir, rel), { recursive: true, mode: 0o700 })),
      },
    );
    return { dir, files: files.sort((a, b) => a.path.localeCompare(b.path)), cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
