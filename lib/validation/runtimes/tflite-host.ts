// The host shims the two TFLite runtimes need to run in Node (in the sandbox child), and nothing else.
// Both are emscripten builds written for a browser or a web worker; each shim below stands in for one
// worker facility they reach for, with why. Install one runtime's shims per process, before importing
// that runtime (tfjs-tflite starts loading its Wasm module the moment it is imported), and never both:
// the child runs one runtime and exits. Measured in ../../../../shared/notes/tflite-runtime.md; each
// shim was confirmed by leaving it out.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import vm from "node:vm";

/** The non-threaded SIMD build of tfjs-tflite: the threaded ones need a browser Worker. */
export const TFJS_TFLITE_BUILD = "tflite_web_api_cc_simd";

/** Lines the Wasm module printed on its error stream (where the reason a model did not load appears). */
export type PrintLog = { lines: string[] };

type EmscriptenFactory = (module: Record<string, unknown>) => Promise<unknown>;
/** The globals the shims set (the DOM typings claim `self` and `location` are a window's). */
type Host = {
  self?: unknown;
  location?: { href: string; origin: string };
  importScripts?: (...urls: string[]) => void;
  tflite_web_api_ModuleFactory?: EmscriptenFactory;
  ModuleFactory?: EmscriptenFactory;
  Module?: Record<string, unknown>;
};
const host = globalThis as unknown as Host;

function keep(log: PrintLog, args: unknown[]) {
  const line = args.map(String).join(" ");
  if (log.lines.length < 200) log.lines.push(line.slice(0, 500));
  process.stderr.write(line + "\n");
}

/**
 * tfjs-tflite 0.0.1-alpha.10. Its loader sees no `window`, takes itself for a web worker, and picks the
 * threaded build (Node passes its SharedArrayBuffer probe); these shims make it load the non-threaded
 * SIMD build from `wasmDir` instead. `ready` settles once the Wasm module is instantiated.
 */
export function installTfjsTfliteHost(wasmDir: string, log: PrintLog): { ready: Promise<void> } {
  // Its worker code path reads `self` (for `self.location` and the module factory): globalThis is it here.
  host.self = globalThis;
  // getLocation() and emscripten's scriptDirectory read `self.location.href`/`.origin` in a worker.
  host.location = { href: pathToFileURL(wasmDir + path.sep).href, origin: "file://" };
  // A worker "loads" the build with importScripts(url); the factory is installed below already, so
  // loading is a no-op. Without the function the load fails silently and a later _malloc read throws.
  host.importScripts = () => {};
  // What importScripts would have defined: the factory of the non-threaded SIMD build (CommonJS), given
  // the .wasm bytes read from disk (Node's fetch cannot read file: URLs) and our print streams, whose
  // error lines hold the reason a model did not load ("Encountered unresolved custom op: ...").
  const factory = createRequire(import.meta.url)(path.join(wasmDir, `${TFJS_TFLITE_BUILD}.js`)) as EmscriptenFactory;
  const wasmBinary = fs.readFileSync(path.join(wasmDir, `${TFJS_TFLITE_BUILD}.wasm`));
  let settle!: (ok: boolean) => void;
  const ready = new Promise<boolean>((resolve) => (settle = resolve));
  host.tflite_web_api_ModuleFactory = (module) => {
    const p = factory({
      ...module,
      wasmBinary,
      print: (...a: unknown[]) => keep(log, a),
      printErr: (...a: unknown[]) => keep(log, a),
    });
    p.then(
      () => settle(true),
      () => settle(false),
    );
    return p;
  };
  // Not shimmed, and not needed: `window`, `document`, `fetch`, `Worker`. `navigator` is avoided by
  // passing `numThreads` when loading a model (see ./tflite.ts).
  return { ready: ready.then(() => undefined) };
}

/**
 * LiteRT.js (@litertjs/core 2.5.3). Its loader calls importScripts(url) on the build it chose and then
 * `self.ModuleFactory(self.Module)`. `loaded` names the build file it asked for.
 */
export function installLiteRtHost(log: PrintLog): { loaded: () => string | null } {
  let loaded: string | null = null;
  // Its Wasm loader reads `self.ModuleFactory` and `self.Module`: globalThis is `self` here.
  host.self = globalThis;
  // The build files are CommonJS-style scripts (they assign module.exports) inside an ES-module package,
  // so neither import() nor require() takes them: run the file as CommonJS, with a require of its own
  // (for fs and path, with which it reads its .wasm beside it), and publish the factory it exports.
  host.importScripts = (...urls: string[]) => {
    for (const url of urls) {
      const file = url.startsWith("file:") ? new URL(url).pathname : url;
      const params = ["exports", "require", "module", "__filename", "__dirname"];
      const run = vm.compileFunction(fs.readFileSync(file, "utf8"), params, { filename: file });
      const module = { exports: {} as unknown };
      run(module.exports, createRequire(file), module, file, path.dirname(file));
      host.ModuleFactory = module.exports as EmscriptenFactory;
      loaded = path.basename(file);
    }
  };
  // The module object handed to the factory: our print streams, as for tfjs-tflite.
  host.Module = { print: (...a: unknown[]) => keep(log, a), printErr: (...a: unknown[]) => keep(log, a) };
  return { loaded: () => loaded };
}
