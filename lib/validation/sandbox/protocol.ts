// The sandbox protocol, written once for both ends: run.ts (the parent) sends a ChildRequest and
// checks every line the child writes against childMessageSchema; child.ts parses its request with
// childRequestSchema (whose defaults fill what the caller left out) and answers with ChildMessages.
//   stdin:  one JSON line, the request.
//   stdout: JSON lines: {"type":"progress","stage":...} and exactly one {"type":"result",...}.
// Nothing the child says is trusted: the limits below bound what the parent accepts.
import { z } from "zod";
import { MODEL_FORMATS, type KnownFormat } from "../../formats/format.ts";
import { conversionSchema, tensorSchema } from "../evidence.ts";

/** Every format the sandbox runs: the TF.js formats and SavedModels, and TFLite files. */
const sandboxFormatSchema = z.enum(MODEL_FORMATS).exclude(["unknown"]) satisfies z.ZodType<KnownFormat, KnownFormat>;

const TFLITE_RUNTIMES: readonly string[] = ["tfjs-tflite", "litert"];

/** What a caller asks the sandbox to run (its fields; the pairing rule below comes on top). */
const requestFields = z.object({
  /** tfjs-tflite: @tensorflow/tfjs-tflite; litert: LiteRT.js (@litertjs/core). Both for TFLite only. */
  runtime: z.enum(["tfjs", "tfjs-node", "savedmodel-js", "tfjs-tflite", "litert"]),
  backend: z.enum(["wasm", "cpu", "tensorflow"]),
  format: sandboxFormatSchema,
  modelDir: z.string().min(1),
  /** TFLite: the model file inside modelDir; the child may read that file and nothing else of the folder. */
  modelFile: z
    .string()
    .min(1)
    .max(255)
    .refine((f) => !f.includes("/") && !f.includes("\\") && f !== "." && f !== "..", "a plain file name")
    .optional(),
  minRuns: z.number().int().min(1).max(1000).default(20),
  maxBenchMs: z.number().int().min(1).max(600_000).default(2000),
  seed: z.number().int().default(1),
  /** savedmodel-js: the signature to run (default: serving_default, default, or the first). */
  signature: z.string().max(256).optional(),
  /** Also report the first input and output values (to compare two runtimes, or to check a result). */
  sampleOutputs: z.boolean().optional(),
});

/** A TFLite file runs in a TFLite runtime, which runs nothing else, and is named by its file. */
function runtimeFitsFormat(r: { runtime: string; format: string; modelFile?: string }, ctx: z.RefinementCtx) {
  if (TFLITE_RUNTIMES.includes(r.runtime) !== (r.format === "tflite"))
    ctx.addIssue({ code: "custom", path: ["runtime"], message: `${r.runtime} does not run ${r.format} models` });
  if (r.format === "tflite" && !r.modelFile)
    ctx.addIssue({ code: "custom", path: ["modelFile"], message: "a TFLite request names its model file" });
}

/** What a caller asks the sandbox to run. */
export const sandboxRequestSchema = requestFields.superRefine(runtimeFitsFormat);
/** A sandbox request as callers write it (defaults may be left out). */
export type SandboxRequest = z.input<typeof sandboxRequestSchema>;
/** The runtime a request names. */
export type SandboxRuntime = SandboxRequest["runtime"];
/** The TF.js backend a request names (`tensorflow`: tfjs-node's libtensorflow). */
export type SandboxBackend = SandboxRequest["backend"];

/** The request as the child receives it: the caller's, plus what the host resolved for it. */
export const childRequestSchema = requestFields
  .extend({
    /** The folder with the runtime's .wasm binaries (tfjs-backend-wasm's `dist`, or the TFLite runtime's). */
    wasmDir: z.string().optional(),
    /** savedmodel-js: the bundled converter module (./bundle.ts). */
    runtimeModule: z.string().optional(),
    /** tfjs-node: the file URL of its entry point (the child cannot resolve packages from its own folder). */
    tfjsNodeModule: z.string().optional(),
  })
  .superRefine(runtimeFitsFormat);
/** A parsed child request, defaults filled in. */
export type ChildRequest = z.output<typeof childRequestSchema>;
/** A child request as the parent writes it (the child fills in the defaults). */
export type ChildRequestInput = z.input<typeof childRequestSchema>;

const benchmarkSchema = z.object({
  batch: z.number().int().min(1),
  firstInferenceMs: z.number().nonnegative(),
  p50Ms: z.number().nonnegative(),
  p95Ms: z.number().nonnegative(),
  p99Ms: z.number().nonnegative(),
  throughputPerSec: z.number().nonnegative(),
  samplesMs: z.array(z.number().nonnegative()).max(1000),
});
/** One benchmark the child measured (one batch size). */
export type ChildBenchmark = z.infer<typeof benchmarkSchema>;

/** The first values of a tensor, when the request asked for them (sampleOutputs). */
const sampleSchema = z.array(z.number()).max(16).optional();
const inputSchema = tensorSchema.extend({ sample: sampleSchema });
const outputSchema = tensorSchema.extend({
  nonFinite: z.object({ nan: z.number().int().min(0), inf: z.number().int().min(0) }),
  sample: sampleSchema,
});
/** One output the model produced on the synthetic input, with its NaN and infinity counts. */
export type ChildOutput = z.infer<typeof outputSchema>;

const successSchema = z.object({
  type: z.literal("result"),
  ok: z.literal(true),
  runtime: z.string().max(32),
  backend: z.string().max(32),
  loadMs: z.number().nonnegative(),
  paramCount: z.number().int().nonnegative().nullable(),
  inputs: z.array(inputSchema).max(256),
  outputs: z.array(outputSchema).max(256),
  benchmarks: z.array(benchmarkSchema).max(4),
  peakRssBytes: z.number().int().nonnegative(),
  nodeVersion: z.string().max(32),
  cpuModel: z.string().max(256),
  conversion: conversionSchema.optional(),
});
const failureSchema = z.object({
  type: z.literal("result"),
  ok: z.literal(false),
  /** The error is about the model (it fails validation), not about the runtime or the host. */
  finding: z.boolean().optional(),
  /** The runtime cannot run this model (an op, an input, a variable write): not the model's fault. */
  unsupported: z.boolean().optional(),
  op: z.string().max(128).optional(),
  error: z.string().max(2000),
  peakRssBytes: z.number().int().nonnegative().optional(),
});
export const childResultSchema = z.discriminatedUnion("ok", [successSchema, failureSchema]);
/** The child's one result: the model ran (with its measurements), or why it did not. */
export type ChildResult = z.infer<typeof childResultSchema>;
/** A result of a model that ran. */
export type ChildSuccess = z.infer<typeof successSchema>;
/** What a runtime in the child reports; the child adds who ran it (unless the runtime names itself) and with what resources. */
export type ChildRunReport = Omit<
  ChildSuccess,
  "type" | "ok" | "runtime" | "peakRssBytes" | "nodeVersion" | "cpuModel"
> & {
  runtime?: string;
};

const progressSchema = z.object({ type: z.literal("progress"), stage: z.string().max(32) });
export const childMessageSchema = z.union([progressSchema, childResultSchema]);
/** One line the child writes on stdout. */
export type ChildMessage = z.infer<typeof childMessageSchema>;

/** Bytes the child may write on the protocol channel before it is killed. */
export const MAX_PROTOCOL_BYTES = 8 * 1024 * 1024;
