// "Which ops does this model use, and which of them can run here": every op of a SavedModel's graph
// and function library, classified against the installed TF.js (op-tables.generated.ts) and what
// the savedmodel-js converter itself handles (calls are inlined, variables frozen).
import type { AttrValue, DecodedMetaGraph, SignatureDef } from "./graph.ts";
import { OP_DEFS, TFJS_OPS } from "./op-tables.generated.ts";

export type OpSupportLevel =
  /** TF.js executes it. */
  | "tfjs"
  /** The converter removes it: function calls are inlined, variables frozen into constants. */
  | "converter"
  /** Only in the saver's or initialiser's subgraph, never part of inference. */
  | "saver"
  /** A TensorFlow op TF.js lacks. */
  | "unsupported"
  /** Not a TensorFlow core op: a custom op from an extension library (e.g. TF.Text). */
  | "custom";

export type OpSupport = {
  op: string;
  count: number;
  support: OpSupportLevel;
  /** Needed by the default signature (when known). */ needed?: boolean;
};

const TFJS = new Set<string>(TFJS_OPS);
const CONVERTER = new Set([
  "StatefulPartitionedCall",
  "PartitionedCall",
  "VarHandleOp",
  "VariableV2",
  "Variable",
  "ReadVariableOp",
  "ResourceGather",
  "NoOp",
]);

export function opSupport(op: string): Exclude<OpSupportLevel, "saver"> {
  if (TFJS.has(op)) return "tfjs";
  if (CONVERTER.has(op)) return "converter";
  return OP_DEFS[op] ? "unsupported" : "custom";
}

/** Every op with its count and whether it can run here; ops seen only in saver subgraphs are marked `saver`. */
export function opReport(counts: Record<string, number>, saverOnly: ReadonlySet<string> = new Set()): OpSupport[] {
  return Object.entries(counts)
    .map(([op, count]) => {
      const s = opSupport(op);
      return { op, count, support: s !== "tfjs" && s !== "converter" && saverOnly.has(op) ? ("saver" as const) : s };
    })
    .sort((a, b) => a.op.localeCompare(b.op));
}

/** The ops that keep a model from running in TF.js. */
export const blockingOps = (report: OpSupport[]) =>
  report.filter((r) => r.support === "unsupported" || r.support === "custom");

/**
 * The ops a signature needs: everything reachable backwards from its outputs (data and control
 * edges), stopping at its inputs, including every function it calls or loops over.
 */
export function neededOps(mg: DecodedMetaGraph, sig: SignatureDef): Set<string> {
  const ops = new Set<string>();
  const byName = new Map(mg.graph.nodes.map((n) => [n.name, n]));
  const stop = new Set(sig.inputs.map((i) => i.name.split(":")[0]!));
  const seen = new Set<string>();
  const fnSeen = new Set<string>();
  const functionsOf = (n: { op: string; attr: Record<string, AttrValue> }): string[] => {
    const out: string[] = [];
    if (mg.graph.functions.has(n.op)) out.push(n.op);
    for (const v of Object.values(n.attr)) {
      if (v.kind === "func") out.push(v.func.name);
      if (v.kind === "list") for (const f of v.list.func) out.push(f.name);
    }
    return out;
  };
  const visitFunction = (name: string) => {
    if (fnSeen.has(name)) return;
    fnSeen.add(name);
    for (const n of mg.graph.functions.get(name)?.nodes ?? []) {
      ops.add(n.op);
      for (const f of functionsOf(n)) visitFunction(f);
    }
  };
  const stack = sig.outputs.map((o) => o.name.split(":")[0]!);
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name) || stop.has(name)) continue;
    seen.add(name);
    const n = byName.get(name);
    if (!n) continue;
    ops.add(n.op);
    for (const f of functionsOf(n)) visitFunction(f);
    for (const i of n.input) stack.push(i.replace(/^\^/, "").split(":")[0]!);
  }
  return ops;
}
