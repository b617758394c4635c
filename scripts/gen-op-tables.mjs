#!/usr/bin/env node
// Generates lib/formats/savedmodel/op-tables.generated.ts for the SavedModel -> TF.js converter:
// - OP_DEFS: from TensorFlow's op registry (ops.pbtxt, TF 2.21), each op's output args (to resolve
//   `node:arg:idx` references in function bodies) and its attribute defaults (function bodies omit
//   attributes left at their default; TF.js needs some of them);
// - TFJS_OPS: the TensorFlow op names the installed @tensorflow/tfjs-converter executes.
//
// ops.pbtxt is TensorFlow's own registry dump. It is not in the npm packages; a copy matching
// TF 2.21 is published by the TensorFlow Java project at
//   tensorflow-core/tensorflow-core-native/src/gen/resources/org/tensorflow/ops.pbtxt
// in github.com/tensorflow/java (Apache-2.0). Regenerate with:
//   node scripts/gen-op-tables.mjs path/to/ops.pbtxt [--out file]
// and re-run after upgrading @tensorflow/tfjs-converter (test/unit/op-tables.test.ts checks it).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const outIdx = args.indexOf("--out");
if (outIdx >= 0 && (outIdx + 1 >= args.length || args[outIdx + 1].startsWith("--"))) {
  console.error("usage: node scripts/gen-op-tables.mjs [path/to/ops.pbtxt] [--out file]");
  process.exit(2);
}
const out =
  outIdx >= 0
    ? path.resolve(args.splice(outIdx, 2)[1])
    : path.join(root, "lib/formats/savedmodel/op-tables.generated.ts");
const input = args[0] ?? "/tmp/opdefs/ops.pbtxt";
const TF_VERSION = "2.21";

if (!fs.existsSync(input)) {
  console.error(
    `${input} not found: get TensorFlow ${TF_VERSION}'s ops.pbtxt from https://github.com/tensorflow/java (tensorflow-core/tensorflow-core-native/src/gen/resources/org/tensorflow/ops.pbtxt) and pass its path`,
  );
  process.exit(1);
}

// ---- a small text-proto reader ----------------------------------------------------------------
function tokenize(text) {
  const tokens = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "#") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (/\s/.test(c)) i++;
    else if (c === "{" || c === "<") tokens.push({ t: "{", i: i++ });
    else if (c === "}" || c === ">") tokens.push({ t: "}", i: i++ });
    else if (c === ":" || c === "[" || c === "]" || c === "," || c === ";") tokens.push({ t: c, i: i++ });
    else if (c === '"' || c === "'") {
      const q = c;
      const bytes = [];
      i++;
      while (text[i] !== q) {
        if (i >= text.length) throw new Error("unterminated string");
        if (text[i] === "\\") {
          const e = text[++i];
          if (e === undefined) throw new Error("unterminated string");
          if (/[0-7]/.test(e)) {
            let o = "";
            while (o.length < 3 && /[0-7]/.test(text[i])) o += text[i++];
            bytes.push(parseInt(o, 8));
            continue;
          }
          if (e === "x") {
            let h = "";
            i++;
            while (h.length < 2 && /[0-9a-fA-F]/.test(text[i])) h += text[i++];
            if (!h) throw new Error(`\\x without hex digits at ${i}`);
            bytes.push(parseInt(h, 16));
            continue;
          }
          const map = { n: 10, t: 9, r: 13, '"': 34, "'": 39, "\\": 92, a: 7, b: 8, f: 12, v: 11, "?": 63 };
          if (!(e in map)) throw new Error(`unknown escape \\${e}`);
          bytes.push(map[e]);
          i++;
        } else {
          // A whole code point (a surrogate pair is one character), as its UTF-8 bytes.
          const ch = String.fromCodePoint(text.codePointAt(i));
          bytes.push(...Buffer.from(ch, "utf8"));
          i += ch.length;
        }
      }
      i++;
      tokens.push({ t: "str", v: Buffer.from(bytes) });
    } else {
      const m = /^[A-Za-z0-9_.+-]+/.exec(text.slice(i, i + 200));
      if (!m) throw new Error(`unexpected character ${JSON.stringify(c)} at ${i}`);
      tokens.push({ t: "word", v: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

/** Parses a message body into [{ name, value }], value being a nested array (message), a Buffer (string) or a word. */
function parseMessage(tokens, pos, end) {
  const fields = [];
  while (pos.i < tokens.length) {
    const tok = tokens[pos.i];
    if (tok.t === end) {
      pos.i++;
      return fields;
    }
    if (tok.t === "," || tok.t === ";") {
      pos.i++; // optional field separators
      continue;
    }
    if (tok.t !== "word") throw new Error(`expected a field name, got ${tok.t}`);
    pos.i++;
    if (tokens[pos.i]?.t === ":") pos.i++;
    const v = tokens[pos.i];
    if (!v) throw new Error(`field ${tok.v} has no value`);
    if (v.t === "{") {
      pos.i++;
      fields.push({ name: tok.v, value: parseMessage(tokens, pos, "}") });
    } else if (v.t === "[") {
      pos.i++;
      while (tokens[pos.i]?.t !== "]") {
        if (pos.i >= tokens.length) throw new Error("unterminated [list]");
        if (tokens[pos.i].t === ",") pos.i++;
        else fields.push({ name: tok.v, value: tokens[pos.i++].v });
      }
      pos.i++;
    } else {
      if (v.t !== "str" && v.t !== "word") throw new Error(`field ${tok.v}: unexpected ${v.t}`);
      pos.i++;
      // Adjacent string literals concatenate.
      let value = v.v;
      while (v.t === "str" && tokens[pos.i]?.t === "str") value = Buffer.concat([value, tokens[pos.i++].v]);
      fields.push({ name: tok.v, value });
    }
  }
  if (end) throw new Error("unterminated message");
  return fields;
}

const get = (msg, name) => msg.find((f) => f.name === name)?.value;
const all = (msg, name) => msg.filter((f) => f.name === name).map((f) => f.value);
const str = (v) => (Buffer.isBuffer(v) ? v.toString("utf8") : v);

function num(word) {
  if (word === "inf" || word === "infinity") return Infinity;
  if (word === "-inf" || word === "-infinity") return -Infinity;
  if (word === "nan") return NaN;
  return Number(word.replace(/f$/i, ""));
}

function shapeOf(msg) {
  const s = {};
  const dims = all(msg, "dim").map((d) => ({ size: String(BigInt(get(d, "size") ?? "0")) }));
  if (dims.length) s.dim = dims;
  if (get(msg, "unknown_rank") === "true") s.unknownRank = true;
  return s;
}

/** Defaults left out of the table (tensor and func values have no use in it), as "Op.attr (kind)". */
const skipped = [];
let current = "";
function attrValue(msg) {
  const f = msg[0];
  if (!f) return { list: {} };
  switch (f.name) {
    case "s":
      return { s: f.value.toString("base64") };
    case "i":
      return { i: String(BigInt(f.value)) };
    case "f":
      return { f: num(f.value) };
    case "b":
      return { b: f.value === "true" };
    case "type":
      return { type: f.value };
    case "shape":
      return { shape: shapeOf(f.value) };
    case "list": {
      const l = f.value;
      const list = {};
      const s = all(l, "s");
      if (s.length) list.s = s.map((b) => b.toString("base64"));
      const i = all(l, "i");
      if (i.length) list.i = i.map((x) => String(BigInt(x)));
      const fl = all(l, "f");
      if (fl.length) list.f = fl.map(num);
      const b = all(l, "b");
      if (b.length) list.b = b.map((x) => x === "true");
      const t = all(l, "type");
      if (t.length) list.type = t;
      const sh = all(l, "shape");
      if (sh.length) list.shape = sh.map(shapeOf);
      if (all(l, "tensor").length || all(l, "func").length) {
        skipped.push(`${current} (list of tensor/func)`);
        return null;
      }
      return { list };
    }
    case "tensor":
    case "func":
      skipped.push(`${current} (${f.name})`);
      return null;
    default:
      throw new Error(`unknown AttrValue field ${f.name}`);
  }
}

// ---- read the registry --------------------------------------------------------------------------
const top = parseMessage(tokenize(fs.readFileSync(input, "utf8")), { i: 0 }, undefined);
const defs = {};
for (const op of all(top, "op")) {
  const name = str(get(op, "name"));
  if (!name) throw new Error("an op without a name");
  if (name in defs) throw new Error(`op ${name} is defined twice`);
  const outputs = all(op, "output_arg").map((a) => {
    const o = { name: str(get(a, "name")) };
    const n = get(a, "number_attr");
    const tl = get(a, "type_list_attr");
    if (n) o.numberAttr = str(n);
    if (tl) o.typeListAttr = str(tl);
    return o;
  });
  const defaults = {};
  for (const a of all(op, "attr")) {
    const dv = get(a, "default_value");
    if (!dv) continue;
    current = `${name}.${str(get(a, "name"))}`;
    const v = attrValue(dv);
    if (v) defaults[str(get(a, "name"))] = v;
  }
  defs[name] = { outputs, defaults, ...(get(op, "is_stateful") === "true" ? { stateful: true } : {}) };
}

// ---- the installed TF.js converter's ops --------------------------------------------------------
const converterDir = path.join(root, "node_modules/@tensorflow/tfjs-converter");
const converterVersion = JSON.parse(fs.readFileSync(path.join(converterDir, "package.json"), "utf8")).version;
const listDir = path.join(converterDir, "dist/operations/op_list");
const tfjs = new Set();
for (const f of fs
  .readdirSync(listDir)
  .filter((f) => f.endsWith(".js"))
  .sort()) {
  const m = await import(pathToFileURL(path.join(listDir, f)).href);
  for (const e of m.json ?? []) tfjs.add(e.tfOpName);
}
const tfjsOps = [...tfjs].sort();

// ---- emit -----------------------------------------------------------------------------------------
const lit = (v) => {
  if (typeof v === "number")
    return Number.isNaN(v) ? "NaN" : v === Infinity ? "Infinity" : v === -Infinity ? "-Infinity" : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(lit).join(", ")}]`;
  if (v && typeof v === "object" && Object.keys(v).length === 0) return "{}";
  if (v && typeof v === "object")
    return `{ ${Object.entries(v)
      .map(([k, x]) => `${/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : JSON.stringify(k)}: ${lit(x)}`)
      .join(", ")} }`;
  return JSON.stringify(v);
};
const lines = [
  `// Generated by scripts/gen-op-tables.mjs from TensorFlow ${TF_VERSION}'s op registry (ops.pbtxt) and`,
  `// @tensorflow/tfjs-converter ${converterVersion}. Do not edit: re-run the script.`,
  "",
  "/** Attribute values in the TF.js model.json (GraphDef JSON) form: int64 as decimal strings, bytes as base64. */",
  "export type AttrJson =",
  "  | { s: string } | { i: string } | { f: number } | { b: boolean } | { type: string }",
  "  | { shape: { dim?: Array<{ size: string }>; unknownRank?: boolean } }",
  "  | { list: { s?: string[]; i?: string[]; f?: number[]; b?: boolean[]; type?: string[]; shape?: Array<{ dim?: Array<{ size: string }>; unknownRank?: boolean }> } }",
  "  | { func: { name: string } };",
  "/** One output arg: its flat width is 1, or the int attr `numberAttr`, or the length of the list(type) attr `typeListAttr`. */",
  "export type OutputArg = { name: string; numberAttr?: string; typeListAttr?: string };",
  "export type OpDefSummary = { outputs: OutputArg[]; defaults: Record<string, AttrJson>; stateful?: true };",
  "",
  `export const TF_VERSION: string = ${JSON.stringify(TF_VERSION)};`,
  `export const TFJS_CONVERTER_VERSION: string = ${JSON.stringify(converterVersion)};`,
  "",
  "/** Every op in TensorFlow's core registry. */",
  "export const OP_DEFS: Record<string, OpDefSummary> = {",
  ...Object.keys(defs)
    .sort()
    .map((k) => `  ${JSON.stringify(k)}: ${lit(defs[k])},`),
  "};",
  "",
  "/** The TensorFlow op names the installed @tensorflow/tfjs-converter can execute (its op_list tfOpName values), sorted. */",
  `export const TFJS_OPS: readonly string[] = ${JSON.stringify(tfjsOps)};`,
  "",
];
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, lines.join("\n"));
const withDefaults = Object.values(defs).filter((d) => Object.keys(d.defaults).length > 0).length;
console.log(`${out}: ${Object.keys(defs).length} ops (${withDefaults} with defaults), ${tfjsOps.length} TF.js ops`);
console.log(`  ${skipped.length} tensor/func default(s) left out${skipped.length ? `: ${skipped.join(", ")}` : ""}`);
