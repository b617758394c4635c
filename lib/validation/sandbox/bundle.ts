// The sandbox child runs under Node's permission model with no TypeScript loader (it could not read
// one anyway), so the TypeScript it runs is bundled with esbuild into single ES modules: the child
// itself (./child.ts, with its protocol and the format vocabulary) and the runtimes it imports
// (../runtimes/). Each is built once per process, in memory; the sandbox writes the ones a run needs
// into that run's private folder. The TF.js and LiteRT.js packages stay outside the bundle, imported
// from node_modules by absolute file URL, so a bundle works from any folder (and the runtimes find their
// Wasm files beside them).
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Plugin } from "esbuild";

const SOURCES = {
  child: fileURLToPath(new URL("./child.ts", import.meta.url)),
  "savedmodel-js": fileURLToPath(new URL("../runtimes/savedmodel-js.ts", import.meta.url)),
} as const;
/** A module the sandbox runs from a bundle. */
export type BundledModule = keyof typeof SOURCES;

const built = new Map<BundledModule, Promise<Uint8Array>>();

/** Resolves `@tensorflow/*` and `@litertjs/*` as Node would from the source folder, and leaves them out of the bundle. */
const tfjsFromNodeModules: Plugin = {
  name: "tfjs-from-node-modules",
  setup(build) {
    build.onResolve({ filter: /^@(tensorflow|litertjs)\// }, (args) => {
      try {
        return { path: pathToFileURL(createRequire(args.importer).resolve(args.path)).href, external: true };
      } catch {
        return { path: args.path, external: true };
      }
    });
  },
};

/** The bundled ES module for `name`, building it on first use. */
export function buildBundle(name: BundledModule): Promise<Uint8Array> {
  let p = built.get(name);
  if (!p) {
    p = (async () => {
      const { build } = await import("esbuild");
      const out = await build({
        entryPoints: [SOURCES[name]],
        write: false,
        outfile: `${name}.mjs`,
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        logLevel: "silent",
        legalComments: "none",
        sourcemap: false,
        plugins: [tfjsFromNodeModules],
        // CommonJS dependencies (snappyjs, the CRC32C package) call require() for Node built-ins.
        banner: {
          js: 'import { createRequire as __hubkeepCreateRequire } from "node:module"; const require = __hubkeepCreateRequire(import.meta.url);',
        },
      });
      return out.outputFiles[0]!.contents;
    })();
    p.catch(() => built.delete(name));
    built.set(name, p);
  }
  return p;
}
