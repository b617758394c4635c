// What a validation run records as evidence: one zod schema per JSON column of ValidationRun
// (`signatures`, `execution`, `findings`, `isolation`). Validation builds values of these types;
// pages, the review queue and the API read them back with the read* functions, which accept every
// row written so far (rows from before findings had codes included) and never throw.
import { z } from "zod";
import type { OpSupportLevel } from "../formats/savedmodel/ops.ts";

// --- signatures: what the static checks read from the model's files -----------------------------

const specTensorSchema = z.object({
  name: z.string(),
  tensor: z.string().optional(),
  dtype: z.string(),
  shape: z.array(z.number()).nullable(),
});
const signatureSchema = z.object({
  key: z.string(),
  method: z.string().optional(),
  inputs: z.array(specTensorSchema).default([]),
  outputs: z.array(specTensorSchema).default([]),
});
const OP_SUPPORT_LEVELS = [
  "tfjs",
  "converter",
  "saver",
  "unsupported",
  "custom",
] as const satisfies readonly OpSupportLevel[];
const opRowSchema = z.object({
  op: z.string(),
  count: z.number(),
  support: z.enum(OP_SUPPORT_LEVELS),
  needed: z.boolean().optional(),
});

const metaGraphSchema = z.object({
  tags: z.array(z.string()).default([]),
  tensorflowVersion: z.string().nullable().optional(),
  signatures: z.array(signatureSchema).default([]),
  /** The op report (absent in early rows). */
  ops: z.array(opRowSchema).optional(),
  /** The signature whose needs `ops[].needed` describes. */
  opsFor: z.string().optional(),
});
const tfjsSignaturesSchema = z.object({
  inputs: z.array(specTensorSchema),
  outputs: z.array(specTensorSchema).default([]),
});
/** How a quantized tensor's integers map to real values: real = scale * (q - zeroPoint), per `axis` when several. */
export const quantizationSchema = z.object({
  scale: z.array(z.number()).max(4096),
  zeroPoint: z.array(z.number()).max(4096),
  axis: z.number().int(),
});
/** A TFLite tensor: its index in the subgraph, and its quantization when it is quantized. */
const tfliteTensorSchema = specTensorSchema.extend({
  index: z.number().int().optional(),
  quantization: quantizationSchema.optional(),
});
/** TFLite, as lib/formats/tflite.ts reads the flatbuffer: the first subgraph's tensors, its signature defs and custom ops. */
const tfliteSignaturesSchema = z.object({
  schemaVersion: z.number().nullable(),
  inputs: z.array(tfliteTensorSchema),
  outputs: z.array(tfliteTensorSchema),
  /** The signature defs: their keys and the names they give the subgraph's tensors. */
  signatureDefs: z
    .array(
      z.object({
        key: z.string(),
        inputs: z.array(z.object({ name: z.string(), tensor: z.number().int() })),
        outputs: z.array(z.object({ name: z.string(), tensor: z.number().int() })),
      }),
    )
    .default([]),
  customOps: z.array(z.string()).default([]),
});
/** TFLite rows written before the tensors were read (and files whose tensors could not be): the schema version only. */
const tfliteVersionOnlySchema = z.object({ schemaVersion: z.number().nullable() });

/**
 * `signatures`: per meta graph for a SavedModel or TF1 Hub module; inputs and outputs for TF.js; the
 * schema version and, where readable, the tensors for TFLite. (TFLite is tried before TF.js: both have
 * inputs, only TFLite has a schema version.)
 */
export const signaturesEvidenceSchema = z.union([
  z.array(metaGraphSchema),
  tfliteSignaturesSchema,
  tfliteVersionOnlySchema,
  tfjsSignaturesSchema,
]);
/** The `signatures` column of a run. */
export type SignaturesEvidence = z.infer<typeof signaturesEvidenceSchema>;
/** One SavedModel meta graph as `signatures` records it. */
export type MetaGraphEvidence = z.infer<typeof metaGraphSchema>;
/** One tensor of a recorded signature. */
export type SpecTensor = z.infer<typeof specTensorSchema>;
/** The `signatures` of a TFLite model whose tensors were read. */
export type TfliteSignaturesEvidence = z.infer<typeof tfliteSignaturesSchema>;
/** One TFLite quantization block. */
export type QuantizationEvidence = z.infer<typeof quantizationSchema>;
/** One op of a meta graph's op report. */
export type OpRowEvidence = z.infer<typeof opRowSchema>;

// --- execution: what the sandbox saw when the model ran -------------------------------------------

/**
 * A tensor the runtime fed or produced (-1 for a dimension it did not know), with its quantization for
 * a quantized TFLite tensor. Also the protocol's.
 */
export const tensorSchema = z.object({
  name: z.string().max(512),
  dtype: z.string().max(32),
  shape: z.array(z.number().int()).max(64).nullable(),
  quantization: quantizationSchema.optional(),
});
/** savedmodel-js: what the conversion did. Also the protocol's. */
export const conversionSchema = z.object({
  runtime: z.string().max(64),
  signature: z.string().max(256),
  convertMs: z.number().nonnegative(),
  nodes: z.number().int().nonnegative(),
  functions: z.number().int().nonnegative(),
  inlinedCalls: z.number().int().nonnegative(),
  frozenVariables: z.number().int().nonnegative(),
  parameters: z.number().int().nonnegative(),
});
/** `execution`: the inputs the sandbox fed, the outputs it got, and the conversion for a SavedModel. */
export const executionEvidenceSchema = z.object({
  inputs: z.array(tensorSchema).default([]),
  outputs: z.array(tensorSchema).default([]),
  conversion: conversionSchema.optional(),
});
/** The `execution` column of a run that executed. */
export type ExecutionEvidence = z.infer<typeof executionEvidenceSchema>;
/** One tensor of `execution`. */
export type ExecutedTensor = z.infer<typeof tensorSchema>;
/** The `execution.conversion` block. */
export type ConversionEvidence = z.infer<typeof conversionSchema>;

// --- findings --------------------------------------------------------------------------------------

const severitySchema = z.enum(["danger", "warning", "info"]);
/** How bad a finding is: `danger` quarantines the version. */
export type Severity = z.infer<typeof severitySchema>;

/** What every finding has: how bad, the words people read, and the op and node it is about, if any. */
const findingBase = z.object({
  severity: severitySchema,
  message: z.string(),
  op: z.string().optional(),
  node: z.string().optional(),
});
/** A graph scan hit (lib/formats/savedmodel/inspect.ts): the op and the node it is in. */
const graphFindingSchema = findingBase.extend({
  /** dangerous_op: an op that touches files or runs Python; op_outside_saver: save/restore outside the saver's subgraph. */
  code: z.enum(["dangerous_op", "op_outside_saver"]),
  op: z.string(),
  node: z.string(),
});
/**
 * The runtime tried and cannot run this model (an op, a variable write, a string input): not the
 * model's fault. `op` names the op (or layer class) that stopped it, when one did.
 */
const refusalFindingSchema = findingBase.extend({
  code: z.literal("runtime_refused"),
  /** The runtime that refused, e.g. savedmodel-js. */
  runtime: z.string(),
  /** What stopped it, in the runtime's words (the message's tail). */
  reason: z.string(),
});
/** A note about how the model was (or was not) run. */
const runFindingSchema = findingBase.extend({
  /**
   * not_executed: no runtime here runs the format (verified statically only); wasm_fallback: the Wasm
   * backend failed and cpu ran it; runtime_fallback: the first TFLite runtime (tfjs-tflite) cannot run
   * the model and the second (LiteRT.js) ran it; cross_check_*: the tfjs-node comparison of a converted
   * SavedModel (unavailable, missing_output, agree, differ).
   */
  code: z.enum([
    "not_executed",
    "wasm_fallback",
    "runtime_fallback",
    "cross_check_unavailable",
    "cross_check_missing_output",
    "cross_check_agree",
    "cross_check_differ",
  ]),
});
export const findingSchema = z.discriminatedUnion("code", [graphFindingSchema, refusalFindingSchema, runFindingSchema]);
/** One entry of the `findings` column, as validation writes it now. */
export type Finding = z.infer<typeof findingSchema>;
/** What a finding is about; the message is for people, the code for code. */
export type FindingCode = Finding["code"];

/** Legacy: a finding written before findings had codes. Only its words (and op and node) are known. */
const legacyFindingSchema = findingBase.extend({ code: z.undefined().optional() });
/** A finding read back from a run: current, or legacy (no `code`). */
export type StoredFinding = Finding | z.infer<typeof legacyFindingSchema>;
const storedFindingSchema = z.union([findingSchema, legacyFindingSchema]);

// --- isolation: what the sandbox enforced ---------------------------------------------------------

/** What the sandbox really enforced for one run (lib/validation/sandbox/isolation.ts says how). */
export const isolationSchema = z.object({
  env: z.literal("empty"),
  fs: z.string(),
  network: z.string(),
  processes: z.string(),
  memory: z.object({
    capBytes: z.number(),
    maxOldSpaceMiB: z.number(),
    cgroup: z.string().nullable(),
    rssWatchdog: z.literal(true),
  }),
  timeoutMs: z.number(),
});
/** The isolation of a sandbox run. */
export type Isolation = z.infer<typeof isolationSchema>;
/** `isolation`: the sandbox's, or a note that nothing was executed. */
export const isolationEvidenceSchema = z.union([isolationSchema, z.object({ note: z.string() })]);
/** The `isolation` column of a run. */
export type IsolationEvidence = z.infer<typeof isolationEvidenceSchema>;
/** The isolation of a run that only checked files. */
export const STATIC_ONLY_ISOLATION: IsolationEvidence = {
  note: "static checks only: the model was parsed and checksummed, not executed",
};

// --- reading back ----------------------------------------------------------------------------------

function parsed<T>(schema: z.ZodType<T>, json: unknown): T | null {
  const r = schema.safeParse(json);
  return r.success ? r.data : null;
}

/** A run's `signatures`, or null when it recorded none (or something unreadable). */
export function readSignatures(json: unknown): SignaturesEvidence | null {
  return parsed(signaturesEvidenceSchema, json);
}

/** A run's `execution`, or null when the model did not run. */
export function readExecution(json: unknown): ExecutionEvidence | null {
  return parsed(executionEvidenceSchema, json);
}

/** A run's `findings`; an entry that is not a finding is left out. */
export function readFindings(json: unknown): StoredFinding[] {
  if (!Array.isArray(json)) return [];
  return json.flatMap((f: unknown) => {
    const r = storedFindingSchema.safeParse(f);
    return r.success ? [r.data] : [];
  });
}

/** A run's `isolation`, or null when it recorded none. */
export function readIsolation(json: unknown): IsolationEvidence | null {
  return parsed(isolationEvidenceSchema, json);
}
