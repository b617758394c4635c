// Deterministic tar.gz: the same files always give the same bytes (sorted names, zero mtimes and
// owners, fixed modes, fixed gzip level), so an archive Hubkeep builds (e.g. for a TF.js model) has
// a stable digest. Streams: each file is read only when its turn comes.
import { type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import tar from "tar-stream";

export type PackEntry = { path: string; size: number; open: () => Promise<Readable> | Readable };

export function packTarGz(entries: PackEntry[]): Readable {
  const pack = tar.pack();
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const dirs = new Set<string>();
  for (const e of sorted) {
    const parts = e.path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  const header = { mtime: new Date(0), uid: 0, gid: 0, uname: "", gname: "" };
  (async () => {
    for (const d of [...dirs].sort()) {
      await new Promise<void>((resolve, reject) =>
        pack.entry({ ...header, name: `${d}/`, type: "directory", mode: 0o755 }, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    }
    for (const e of sorted) {
      const src = await e.open();
      const sink = pack.entry({ ...header, name: e.path, type: "file", mode: 0o644, size: e.size });
      await pipeline(src, sink);
    }
    pack.finalize();
  })().catch((err: Error) => pack.destroy(err));
  return (pack as unknown as Readable).pipe(zlib.createGzip({ level: 6 }));
}
