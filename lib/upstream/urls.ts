// How a handle becomes upstream URLs: where tfhub.dev (or the configured upstream base that stands
// in for it) and Kaggle Models serve each format of a version, and where they are asked for the
// latest one. handles.ts parses the URLs users paste; this builds the URLs Hubkeep fetches.
import type { ParsedModelUrl } from "./handles.ts";

export const KAGGLE_BASE = "https://www.kaggle.com";

/** Where one version's bytes are fetched from, per format. */
export type UpstreamUrls = {
  /** The SavedModel / TF1 Hub tar.gz. */
  compressed: string;
  /** The single .tflite file. */
  tflite: string;
  /** The directory holding a TF.js model.json and its weight shards (see tfjsFileUrl). */
  tfjsDir: string;
};

function trimSlashes(base: string): string {
  return base.replace(/\/+$/, "");
}

/** Where each format is fetched from (the configured upstream base replaces https://tfhub.dev). */
export function upstreamUrls(
  parsed: Pick<ParsedModelUrl, "source" | "handle" | "version">,
  upstreamBase: string,
): UpstreamUrls {
  const v = parsed.version;
  if (parsed.source === "kaggle") {
    // Kaggle Models' download endpoint answers a tar.gz of the version (or redirects to one).
    const base = `${KAGGLE_BASE}/api/v1/models/${parsed.handle}/${v}/download`;
    return { compressed: base, tflite: base, tfjsDir: `${KAGGLE_BASE}/models/${parsed.handle}/${v}` };
  }
  const root = `${trimSlashes(upstreamBase)}/${parsed.handle}/${v}`;
  return { compressed: `${root}?tf-hub-format=compressed`, tflite: `${root}?lite-format=tflite`, tfjsDir: root };
}

/** One file of a TF.js model (`model.json` or a weight shard named in it). */
export function tfjsFileUrl(urls: Pick<UpstreamUrls, "tfjsDir">, path: string): string {
  return `${urls.tfjsDir}/${path}?tfjs-format=file`;
}

/** The unversioned tfhub.dev URL of a handle, which redirects to its latest version. */
export function tfhubLatestUrl(handle: string, upstreamBase: string): string {
  return `${trimSlashes(upstreamBase)}/${handle}`;
}

/** Kaggle's model-instance endpoint, which names the latest version of a handle. */
export function kaggleInstanceUrl(handle: string, kaggleBase: string = KAGGLE_BASE): string {
  return `${trimSlashes(kaggleBase)}/api/v1/models/${handle}/get`;
}
