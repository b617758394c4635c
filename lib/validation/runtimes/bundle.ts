// The sandbox child is plain JavaScript with no TypeScript loader (it could not read one under the
// permission model anyway), so the TypeScript runtimes it imports are bundled into one ES module:
// built once per process with esbuild into a private temp folder (mode 0700, removed at exit) that
// the child is then allowed to read.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SOURCES = { "savedmodel-js": fileURLToPath(new URL("./savedmodel-js.ts", import.meta.url)) } as const;
export type BundledRuntime = keyof typeof SOURCES;

const built = new Map<BundledRuntime, Promise<string>>();
let dir: string | null = null;

/** The path of the bundled ES module for `runtime`, building it on first use. */
export function runtimeBundle(runtime: BundledRuntime): Promise<string> {
  let p = built.get(runtime);
  if (!p) {
    p = (async () => {
      const { build } = await import("esbuild");
      if (!dir) {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-runtimes-"));
        fs.chmodSync(dir, 0o700);
        const d = dir;
        process.once("exit", () => fs.rmSync(d, { recursive: true, force: true }));
      }
      const outfile = path.join(dir, `${runtime}.mjs`);
      await build({ entryPoints: [SOURCES[runtime]], outfile, bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "silent", legalComments: "none", sourcemap: false,
        // CommonJS dependencies (snappyjs, the CRC32C package) call require() for Node built-ins.
        banner: { js: 'import { createRequire as __hubkeepCreateRequire } from "node:module"; const require = __hubkeepCreateRequire(import.meta.url);' } });
      return outfile;
    })();
    p.catch(() => built.delete(runtime));
    built.set(runtime, p);
  }
  return p;
}
