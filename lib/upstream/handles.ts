// Parses the model URLs users paste (tfhub.dev handles, Kaggle Models URLs) into a handle, a version
// (or "latest") and a format. How a handle becomes upstream URLs again is ./urls.ts.
import { AppError } from "../errors.ts";
import type { KnownFormat } from "../formats/format.ts";
import { HANDLE_SEGMENT, VERSION_SEGMENT, parseVersionNumber } from "../handle-path.ts";

/** The format a URL implies before anything is fetched (TF.js layers is told only by its model.json). */
export type ModelFormatGuess = Exclude<KnownFormat, "tfjs_layers">;

export type ParsedModelUrl = {
  source: "tfhub" | "kaggle";
  /** Lowercase handle, e.g. `google/imagenet/mobilenet_v2_100_224/feature_vector`. */
  handle: string;
  version: number | "latest";
  format: ModelFormatGuess;
  /** The canonical URL of this handle and version (`https://tfhub.dev/...` or the Kaggle short form). */
  canonicalUrl: string;
};

const MAX_HANDLE = 300;
const TFHUB_HOSTS = new Set(["tfhub.dev", "www.tfhub.dev"]);
const KAGGLE_HOSTS = new Set(["www.kaggle.com", "kaggle.com"]);

const KAGGLE_FRAMEWORKS: Record<string, ModelFormatGuess> = {
  tensorflow2: "saved_model",
  tensorflow1: "tf1_hub",
  tfjs: "tfjs_graph",
  tflite: "tflite",
};

function bad(message: string): never {
  throw new AppError("unprocessable_entity", message);
}

/** The format a handle implies: `tfjs-model/` → TF.js, `lite-model/` → TFLite, else SavedModel. */
export function formatOfHandle(handle: string): ModelFormatGuess {
  const segs = handle.split("/");
  if (segs.includes("tfjs-model")) return "tfjs_graph";
  if (segs.includes("lite-model")) return "tflite";
  return "saved_model";
}

/** Validates a handle's shape (lowercase segments of letters, digits, `.`, `_`, `-`). */
export function checkHandle(handle: string): string {
  const h = handle.toLowerCase();
  if (h.length === 0) bad("the URL names no model");
  if (h.length > MAX_HANDLE) bad(`handle is longer than ${MAX_HANDLE} characters`);
  const segs = h.split("/");
  if (segs.length < 2) bad(`"${h}" is not a model handle: expected <publisher>/<model>[/...]`);
  for (const s of segs) {
    if (s === "." || s === "..") bad(`handle segment "${s}" is not allowed`);
    if (!HANDLE_SEGMENT.test(s)) bad(`handle segment "${s}" may only hold letters, digits, ".", "_" and "-"`);
  }
  if (VERSION_SEGMENT.test(segs[segs.length - 1]!))
    bad(`handle "${h}" ends in a number, which would read as a version`);
  return h;
}

function parseVersion(s: string): number {
  const n = parseVersionNumber(s);
  if (n === null) bad(`version "${s}" must be a positive integer`);
  return n;
}

function decodeSegments(pathname: string): string[] {
  return pathname
    .split("/")
    .filter((s) => s !== "")
    .map((s) => {
      let d: string;
      try {
        d = decodeURIComponent(s);
      } catch {
        bad(`malformed percent-encoding in "${s}"`);
      }
      if (d.includes("/") || d.includes("\\") || d.includes("\0")) bad(`path segment "${s}" is not allowed`);
      return d;
    });
}

/** Parses a tfhub.dev or Kaggle Models URL. Throws 422 (unprocessable_entity) naming what is wrong. */
export function parseModelUrl(input: string): ParsedModelUrl {
  const raw = input.trim();
  if (!raw) bad("url is empty");
  // Check before WHATWG URL parsing silently resolves them away.
  const rawPath = raw.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").split(/[?#]/)[0]!;
  if (rawPath.split("/").some((s) => /^(\.|%2e){1,2}$/i.test(s))) bad('path segments "." and ".." are not allowed');
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    bad(`"${raw}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    bad(`unsupported scheme "${url.protocol}": use https://tfhub.dev/... or a Kaggle model URL`);
  if (url.username || url.password) bad("model URLs may not carry credentials");
  const host = url.hostname.toLowerCase();
  const segs = decodeSegments(url.pathname);

  if (TFHUB_HOSTS.has(host)) {
    // TF.js URLs are often pasted with their file: .../1/default/1/model.json
    if (segs.length && /^model\.json$/i.test(segs[segs.length - 1]!)) segs.pop();
    let version: number | "latest" = "latest";
    if (segs.length && VERSION_SEGMENT.test(segs[segs.length - 1]!)) version = parseVersion(segs.pop()!);
    const handle = checkHandle(segs.join("/"));
    return {
      source: "tfhub",
      handle,
      version,
      format: formatOfHandle(handle),
      canonicalUrl: `https://tfhub.dev/${handle}${version === "latest" ? "" : `/${version}`}`,
    };
  }

  if (KAGGLE_HOSTS.has(host)) {
    if (segs[0] !== "models")
      bad(
        `"${raw}" is not a Kaggle model URL: expected https://www.kaggle.com/models/<owner>/<model>/<framework>/<variation>[/<version>]`,
      );
    let rest = segs.slice(1);
    // Long form: <owner>/<model>/frameworks/<fw>/variations/<v>[/versions/<n>]
    if (rest[2]?.toLowerCase() === "frameworks") {
      if (rest[4]?.toLowerCase() !== "variations" || rest.length < 6)
        bad("Kaggle URL: expected .../frameworks/<framework>/variations/<variation>[/versions/<n>]");
      const tail = rest.slice(6);
      if (tail.length && (tail[0]!.toLowerCase() !== "versions" || tail.length !== 2))
        bad("Kaggle URL: expected .../versions/<n> after the variation");
      rest = [rest[0]!, rest[1]!, rest[3]!, rest[5]!, ...(tail.length ? [tail[1]!] : [])];
    }
    if (rest.length < 4 || rest.length > 5)
      bad("Kaggle URL: expected /models/<owner>/<model>/<framework>/<variation>[/<version>]");
    const version = rest.length === 5 ? parseVersion(rest[4]!) : "latest";
    const [owner, model, framework, variation] = rest.map((s) => s.toLowerCase()) as [string, string, string, string];
    const format = KAGGLE_FRAMEWORKS[framework];
    if (!format)
      bad(`Kaggle framework "${rest[2]}" is not supported: expected one of tensorFlow2, tensorFlow1, tfJs, tfLite`);
    const handle = checkHandle(`${owner}/${model}/${framework}/${variation}`);
    return {
      source: "kaggle",
      handle,
      version,
      format,
      canonicalUrl: `https://www.kaggle.com/models/${owner}/${model}/${framework}/${variation}${version === "latest" ? "" : `/${version}`}`,
    };
  }

  bad(`"${host}" is not tfhub.dev or www.kaggle.com: paste a https://tfhub.dev/... handle or a Kaggle model URL`);
}
