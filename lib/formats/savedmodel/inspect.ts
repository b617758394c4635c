// SavedModel / TF1 Hub module static inspection: meta graphs, tags, TensorFlow version, signatures
// (inputs and outputs with dtype and shape, `__saved_model_init_op` skipped), and a scan of the
// graph and its whole function library for ops that touch files or run Python.
import { AppError } from "../../errors.ts";
import { asString, fields, ProtobufError } from "../protobuf.ts";
import { opReport, type OpSupport } from "./ops.ts";

export { dtypeName, DTYPE_NAMES as DTYPES } from "./graph.ts";
import { decodeSignature, dtypeName, mapEntry, type TensorInfo } from "./graph.ts";

export type TensorSpec = { name: string; tensor: string; dtype: string; shape: number[] | null };
export type Signature = { key: string; method: string; inputs: TensorSpec[]; outputs: TensorSpec[] };
export type MetaGraph = {
  tags: string[];
  tensorflowVersion: string | null;
  signatures: Signature[];
  opCounts: Record<string, number>;
  ops: OpSupport[];
};
/** A scan hit: `dangerous_op` (DANGEROUS_OPS) or `op_outside_saver` (a save/restore op outside the saver's subgraph). */
export type Finding = {
  code: "dangerous_op" | "op_outside_saver";
  severity: "danger" | "warning";
  op: string;
  node: string;
  where: string;
  message: string;
};
export type SavedModelInfo = { schemaVersion: number; metaGraphs: MetaGraph[]; findings: Finding[] };

// Ops that read or write files, print, or run Python: a hit quarantines the version.
export const DANGEROUS_OPS: Record<string, string> = {
  ReadFile: "reads arbitrary files",
  WriteFile: "writes arbitrary files",
  PrintV2: "prints to a file or stream",
  Print: "prints tensors",
  MatchingFiles: "lists files on the host",
  PyFunc: "runs Python code",
  PyFuncStateless: "runs Python code",
  EagerPyFunc: "runs Python code",
  DebugIdentity: "writes debug dumps",
  DebugIdentityV2: "writes debug dumps",
  DebugIdentityV3: "writes debug dumps",
  ImmutableConst: "maps a file into memory",
};
// Save/restore ops are expected in the saver's own subgraph only.
const SAVER_OPS = new Set([
  "Save",
  "SaveV2",
  "SaveSlices",
  "Restore",
  "RestoreV2",
  "RestoreSlice",
  "MergeV2Checkpoints",
  "ShardedFilename",
]);

const MAX_META_GRAPHS = 64;
const MAX_NODES = 2_000_000;

/** A signature in the static report's terms: input and output names by key, dtype names, and the tensor each maps to. */
function signatureDef(key: string, buf: Buffer): Signature {
  const sig = decodeSignature(key, buf);
  const spec = (t: TensorInfo): TensorSpec => ({
    name: t.key,
    tensor: t.composite ? `${t.name || t.key} (composite)` : t.name,
    dtype: dtypeName(t.dtype),
    shape: t.shape,
  });
  return { key, method: sig.method, inputs: sig.inputs.map(spec), outputs: sig.outputs.map(spec) };
}

type Node = { name: string; op: string };

function nodeDef(buf: Buffer): Node {
  let name = "";
  let op = "";
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wire === 2) name = asString(f.value);
    else if (f.field === 2 && f.wire === 2) op = asString(f.value);
  }
  return { name, op };
}

// tf.train.Saver puts its ops under `save/` (`save_1/`, … when there are several, e.g. a training
// checkpoint saver left in the graph); the SavedModel's own saver is named by saver_def.
function isSaverNode(name: string, saverScope: string | null): boolean {
  const scope = name.split("/")[0]!;
  return name.includes("/") && (scope === saverScope || /^save(_\d+)?$/.test(scope));
}

function scanNodes(
  nodes: Node[],
  where: string,
  saverScope: string | null,
  counts: Record<string, number>,
  findings: Finding[],
  inSaver = false,
  outsideSaver?: Set<string>,
) {
  for (const n of nodes) {
    counts[n.op] = (counts[n.op] ?? 0) + 1;
    if (!inSaver && !isSaverNode(n.name, saverScope)) outsideSaver?.add(n.op);
    const danger = DANGEROUS_OPS[n.op];
    if (danger)
      findings.push({
        code: "dangerous_op",
        severity: "danger",
        op: n.op,
        node: n.name,
        where,
        message: `op ${n.op} (${danger}) in node '${n.name}' of ${where}`,
      });
    else if (SAVER_OPS.has(n.op) && !inSaver && !isSaverNode(n.name, saverScope)) {
      findings.push({
        code: "op_outside_saver",
        severity: "danger",
        op: n.op,
        node: n.name,
        where,
        message: `op ${n.op} outside the saver, in node '${n.name}' of ${where}`,
      });
    }
  }
}

function graphDef(
  buf: Buffer,
  saverScope: string | null,
  counts: Record<string, number>,
  findings: Finding[],
  outsideSaver: Set<string>,
) {
  const top: Node[] = [];
  let total = 0;
  for (const f of fields(buf)) {
    if (f.wire !== 2) continue;
    if (f.field === 1) top.push(nodeDef(f.value));
    else if (f.field === 2) {
      for (const fn of fields(f.value)) {
        if (fn.field !== 1 || fn.wire !== 2) continue;
        let fname = "";
        const body: Node[] = [];
        for (const ff of fields(fn.value)) {
          if (ff.field === 1 && ff.wire === 2)
            for (const s of fields(ff.value)) if (s.field === 1 && s.wire === 2) fname = asString(s.value);
          if (ff.field === 3 && ff.wire === 2) body.push(nodeDef(ff.value));
        }
        total += body.length;
        if (total > MAX_NODES) throw new ProtobufError(`more than ${MAX_NODES} nodes`);
        // Functions named like the TF2 saver's own are its save/restore functions.
        const scope = /^__inference_(save|restore)_/.test(fname) || /_traced_(save|restore)/.test(fname) ? fname : null;
        scanNodes(body, `function ${fname}`, saverScope, counts, findings, scope !== null, outsideSaver);
      }
    }
  }
  scanNodes(top, "the graph", saverScope, counts, findings, false, outsideSaver);
}

function saverScopeOf(buf: Buffer | null): string | null {
  if (!buf) return null;
  for (const f of fields(buf)) {
    if ((f.field === 1 || f.field === 2 || f.field === 3) && f.wire === 2) {
      const name = asString(f.value);
      const i = name.indexOf("/");
      if (i > 0) return name.slice(0, i);
    }
  }
  return null;
}

/** Parses saved_model.pb. Throws 422 ("saved_model.pb is not a valid SavedModel: …") on bad input. */
export function inspectSavedModel(pb: Buffer): SavedModelInfo {
  try {
    let schemaVersion = 0;
    const metaGraphs: MetaGraph[] = [];
    const findings: Finding[] = [];
    for (const f of fields(pb)) {
      if (f.field === 1 && f.wire === 0) schemaVersion = Number(f.value);
      else if (f.field === 2 && f.wire === 2) {
        if (metaGraphs.length >= MAX_META_GRAPHS) throw new ProtobufError(`more than ${MAX_META_GRAPHS} meta graphs`);
        const mg: MetaGraph = { tags: [], tensorflowVersion: null, signatures: [], opCounts: {}, ops: [] };
        let graph: Buffer | null = null;
        let saver: Buffer | null = null;
        for (const m of fields(f.value)) {
          if (m.wire !== 2) continue;
          if (m.field === 1) {
            for (const i of fields(m.value)) {
              if (i.field === 4 && i.wire === 2) mg.tags.push(asString(i.value));
              if (i.field === 5 && i.wire === 2) mg.tensorflowVersion = asString(i.value);
            }
          } else if (m.field === 2) graph = m.value;
          else if (m.field === 3) saver = m.value;
          else if (m.field === 5) {
            const [k, v] = mapEntry(m.value);
            if (k !== "__saved_model_init_op" && v) mg.signatures.push(signatureDef(k, v));
          }
        }
        mg.signatures.sort((a, b) => a.key.localeCompare(b.key));
        const outsideSaver = new Set<string>();
        if (graph) graphDef(graph, saverScopeOf(saver), mg.opCounts, findings, outsideSaver);
        mg.ops = opReport(mg.opCounts, new Set(Object.keys(mg.opCounts).filter((op) => !outsideSaver.has(op))));
        metaGraphs.push(mg);
      }
    }
    if (metaGraphs.length === 0) throw new ProtobufError("it has no meta graphs");
    return { schemaVersion, metaGraphs, findings };
  } catch (err) {
    if (err instanceof ProtobufError)
      throw new AppError("unprocessable_entity", `saved_model.pb is not a valid SavedModel: ${err.message}`);
    throw err;
  }
}
