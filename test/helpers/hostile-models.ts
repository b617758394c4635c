// TF.js graph models built at test time to attack the validation sandbox. Each one passes every
// static check (a valid model.json whose shard holds exactly the declared weights) and misbehaves
// only when it runs.
import fs from "node:fs";
import path from "node:path";

type Weight = { name: string; dtype: "int32" | "float32"; shape: number[]; values: number[] };

function writeGraphModel(dir: string, nodes: unknown[], weights: Weight[], library?: unknown): string {
  fs.mkdirSync(dir, { recursive: true });
  const bytes = Buffer.concat(
    weights.map((w) =>
      Buffer.from((w.dtype === "int32" ? Int32Array.from(w.values) : Float32Array.from(w.values)).buffer),
    ),
  );
  fs.writeFileSync(path.join(dir, "group1-shard1of1.bin"), bytes);
  const model = {
    format: "graph-model",
    generatedBy: "hubkeep tests",
    convertedBy: "hubkeep tests",
    modelTopology: { node: nodes, library: library ?? {}, versions: { producer: 1 } },
    weightsManifest: [
      { paths: ["group1-shard1of1.bin"], weights: weights.map(({ name, dtype, shape }) => ({ name, dtype, shape })) },
    ],
  };
  fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(model));
  return dir;
}

const float = { type: "DT_FLOAT" };
const placeholder = (name: string) => ({ name, op: "Placeholder", attr: { dtype: float, shape: { shape: {} } } });
const constNode = (name: string, dtype: "DT_INT32" | "DT_FLOAT", dims: number[]) => ({
  name,
  op: "Const",
  attr: {
    dtype: { type: dtype },
    value: { tensor: { dtype, tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } } },
  },
});

/** x (a scalar) -> Fill([side, side], x) -> Sum: allocates side² floats at run time. */
export function writeFillModel(dir: string, side: number): string {
  return writeGraphModel(
    dir,
    [
      placeholder("x"),
      constNode("dims", "DT_INT32", [2]),
      constNode("axes", "DT_INT32", [2]),
      { name: "big", op: "Fill", input: ["dims", "x"], attr: { T: float, index_type: { type: "DT_INT32" } } },
      {
        name: "out",
        op: "Sum",
        input: ["big", "axes"],
        attr: { T: float, Tidx: { type: "DT_INT32" }, keep_dims: { b: false } },
      },
    ],
    [
      { name: "dims", dtype: "int32", shape: [2], values: [side, side] },
      { name: "axes", dtype: "int32", shape: [2], values: [0, 1] },
    ],
  );
}

/** x (a scalar in [-1, 1)) -> While(x < limit) { x } with limit = 2: a loop that never ends. */
export function writeForeverModel(dir: string): string {
  const arg = (name: string) => ({ name, type: "DT_FLOAT" });
  return writeGraphModel(
    dir,
    [
      placeholder("x"),
      constNode("limit", "DT_FLOAT", []),
      {
        name: "loop",
        op: "StatelessWhile",
        input: ["x", "limit"],
        attr: {
          T: { list: { type: ["DT_FLOAT", "DT_FLOAT"] } },
          cond: { func: { name: "forever_cond" } },
          body: { func: { name: "forever_body" } },
        },
      },
      { name: "out", op: "Identity", input: ["loop"], attr: { T: float } },
    ],
    [{ name: "limit", dtype: "float32", shape: [], values: [2] }],
    {
      function: [
        {
          signature: {
            name: "forever_cond",
            inputArg: [arg("i"), arg("lim")],
            outputArg: [{ name: "less", type: "DT_BOOL" }],
          },
          nodeDef: [{ name: "Less", op: "Less", input: ["i", "lim"], attr: { T: float } }],
          ret: { less: "Less:z:0" },
        },
        {
          signature: {
            name: "forever_body",
            inputArg: [arg("i"), arg("lim")],
            outputArg: [arg("i_out"), arg("lim_out")],
          },
          nodeDef: [
            { name: "Id", op: "Identity", input: ["i"], attr: { T: float } },
            { name: "Id2", op: "Identity", input: ["lim"], attr: { T: float } },
          ],
          ret: { i_out: "Id:output:0", lim_out: "Id2:output:0" },
        },
      ],
    },
  );
}

/** out = x * w with w = NaN: runs fine, but its output is not finite. */
export function writeNanModel(dir: string): string {
  return writeGraphModel(
    dir,
    [
      placeholder("x"),
      constNode("w", "DT_FLOAT", []),
      { name: "out", op: "Mul", input: ["x", "w"], attr: { T: float } },
    ],
    [{ name: "w", dtype: "float32", shape: [], values: [Number.NaN] }],
  );
}

/** An input declared with unknown rank: nothing can be synthesised for it. */
export function writeUnknownRankModel(dir: string): string {
  return writeGraphModel(
    dir,
    [
      { name: "images", op: "Placeholder", attr: { dtype: float, shape: { shape: { unknownRank: true } } } },
      constNode("w", "DT_FLOAT", []),
      { name: "out", op: "Mul", input: ["images", "w"], attr: { T: float } },
    ],
    [{ name: "w", dtype: "float32", shape: [], values: [2] }],
  );
}

/**
 * A script (not a model) that tries everything a hostile child might, and reports what worked. With
 * `beside`, it also tries a file next to its model (a TFLite child may read only its model file) and
 * the runtime's .wasm; the report carries its Node flags (without the read allowances) to compare.
 */
export function hostileScript(opts: {
  secretFile: string;
  outsideWrite: string;
  canaryPort: number;
  beside?: string;
}): string {
  const extra = opts.beside
    ? `await attempt("readBeside", () => fs.readFileSync(${JSON.stringify(opts.beside)}));
await attempt("readWasm", () => fs.readFileSync(req.wasmDir + "/" + fs.readdirSync(req.wasmDir).find((f) => f.endsWith(".wasm"))));
`
    : "";
  return `
import fs from "node:fs";
import net from "node:net";
import cp from "node:child_process";
import { Worker } from "node:worker_threads";
const report = {};
const attempt = async (k, fn) => { try { await fn(); report[k] = "allowed"; } catch (e) { report[k] = e.code || String(e.message).slice(0, 80); } };
let raw = "";
for await (const c of process.stdin) { raw += c; if (raw.includes("\\n")) break; }
const req = JSON.parse(raw.split("\\n")[0]);
const model = req.modelFile ? req.modelDir + "/" + req.modelFile : req.modelDir;
await attempt("readOwnModel", () => req.modelFile ? fs.readFileSync(model) : fs.readdirSync(model));
${extra}await attempt("readSecret", () => fs.readFileSync(${JSON.stringify(opts.secretFile)}));
await attempt("readEtc", () => fs.readFileSync("/etc/hostname"));
await attempt("writeOutside", () => fs.writeFileSync(${JSON.stringify(opts.outsideWrite)}, "pwned"));
await attempt("writeOwnTemp", () => fs.writeFileSync(process.cwd() + "/scratch.txt", "ok"));
await attempt("spawn", () => cp.execFileSync("/bin/sh", ["-c", "true"]));
await attempt("worker", () => new Promise((res, rej) => { const w = new Worker("1", { eval: true }); w.on("error", rej); w.on("exit", res); }));
await attempt("tcp", () => new Promise((res, rej) => { const s = net.connect(${opts.canaryPort}, "127.0.0.1"); s.setTimeout(2000, () => rej(new Error("timeout"))); s.on("connect", () => { s.end(); res(); }); s.on("error", rej); }));
report.env = Object.keys(process.env);
report.execArgv = process.execArgv.filter((a) => !a.startsWith("--allow-fs-read="));
process.stdout.write(JSON.stringify({ type: "result", ok: false, error: JSON.stringify(report) }) + "\\n");
`;
}

/** A plain model with `mib` MiB of float32 weights: out = x + w (for large-download tests). */
export function writeBigModel(dir: string, mib: number): string {
  const n = (mib * 1024 * 1024) / 4;
  const values = new Array<number>(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    values[i] = (s / 4294967296) * 2 - 1;
  }
  return writeGraphModel(
    dir,
    [
      { name: "x", op: "Placeholder", attr: { dtype: float, shape: { shape: { dim: [{ size: "1" }] } } } },
      constNode("w", "DT_FLOAT", [n]),
      { name: "out", op: "AddV2", input: ["x", "w"], attr: { T: float } },
    ],
    [{ name: "w", dtype: "float32", shape: [n], values }],
  );
}
