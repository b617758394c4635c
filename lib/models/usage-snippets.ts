// The "Use it" lines of a model page: how to load one pinned version with TF.js or tensorflow_hub,
// and how to download it with curl and check it against its digest.
import { isTfjs, type ModelFormat } from "../formats/format.ts";
import type { SignatureView, TensorSpecView } from "./signatures.ts";
import { readExecution } from "../validation/evidence.ts";

/** One copyable snippet: its label (also the copy button's name) and its code, verbatim. */
export type UsageSnippet = { label: string; code: string };

/** What the snippets of one version are made of. */
export type UsageInput = {
  /** The version's pinned URL, `{publicUrl}/{handle}/{number}`. */
  url: string;
  handle: string;
  number: number;
  format: ModelFormat;
  /** The model's first input shape, batch dimension first (null when not recorded). */
  inputShape: number[] | null | undefined;
  /** The archive's digest, `sha256:{hex}`. */
  digest: string;
};

/** The pinned URL of one version of a model: the same bytes forever. */
export function buildPinnedUrl(publicUrl: string, handle: string, number: number): string {
  return `${publicUrl}/${handle}/${number}`;
}

/** The download of a version: the `.tflite` file itself for TFLite, else the hub's compressed archive. */
export function buildDownloadUrl(url: string, format: ModelFormat): string {
  return format === "tflite" ? `${url}?lite-format=tflite` : `${url}?tf-hub-format=compressed`;
}

/** The file name a download is saved as: the handle's last segment, the version number, the extension. */
export function nameDownloadFile(handle: string, number: number, format: ModelFormat): string {
  return `${handle.split("/").pop()}_${number}${format === "tflite" ? ".tflite" : ".tar.gz"}`;
}

/**
 * The input a caller must feed: the first input of the serving signature (`serving_default`, a TF1
 * `default`, or a TF.js `model`), else the first input the sandbox executed the model with.
 */
export function findPrimaryInput(signatures: SignatureView[], execution: unknown): TensorSpecView | undefined {
  return (
    signatures.find((s) => s.key === "serving_default" || s.key === "default" || s.key === "model")?.inputs[0] ??
    readExecution(execution)?.inputs[0]
  );
}

/** A Keras `input_shape`: the shape without its batch dimension, unknown dimensions as `None`. */
export function formatKerasInputShape(shape: number[] | null | undefined): string | null {
  return shape
    ? `[${shape
        .slice(1)
        .map((d) => (d < 0 ? "None" : d))
        .join(", ")}]`
    : null;
}

/**
 * The snippets of one version, in page order: TF.js for TF.js models; a Keras layer and `hub.load`
 * for SavedModels (and anything else tensorflow_hub loads); `tf.lite.Interpreter` on the pinned
 * `.tflite`, checked against its digest, for TFLite; then, for every format, curl with a sha256sum check.
 */
export function buildUsageSnippets(input: UsageInput): UsageSnippet[] {
  const { url, handle, number, format, digest } = input;
  const inputShape = formatKerasInputShape(input.inputShape);
  const file = nameDownloadFile(handle, number, format);
  const hex = digest.slice("sha256:".length);
  const snippets: UsageSnippet[] = [];
  if (isTfjs(format)) {
    snippets.push({
      label: "TF.js",
      code: `import * as tf from "@tensorflow/tfjs";\nconst model = await tf.loadGraphModel("${url}", { fromTFHub: true });`,
    });
  } else if (format === "tflite") {
    snippets.push({
      label: "tf.lite.Interpreter",
      code: [
        "import hashlib, urllib.request",
        "import tensorflow as tf",
        `data = urllib.request.urlopen("${buildDownloadUrl(url, format)}").read()`,
        `assert hashlib.sha256(data).hexdigest() == "${hex}"`,
        "interpreter = tf.lite.Interpreter(model_content=data)",
        "interpreter.allocate_tensors()",
      ].join("\n"),
    });
  } else {
    snippets.push({
      label: "Keras layer",
      code: `import tensorflow_hub as hub\nlayer = hub.KerasLayer("${url}", trainable=False${inputShape ? `, input_shape=${inputShape}` : ""})`,
    });
    snippets.push({ label: "hub.load", code: `import tensorflow_hub as hub\nmodel = hub.load("${url}")` });
  }
  snippets.push({
    label: "curl",
    code: `curl -fL -o ${file} "${buildDownloadUrl(url, format)}"\necho "${hex}  ${file}" | sha256sum -c -`,
  });
  return snippets;
}
