// TensorFlow checkpoints (the "tensor bundle" in variables/): variables.index is a LevelDB-format
// table (blocks optionally Snappy-compressed, each with a masked CRC32C trailer); every entry points
// at a tensor's bytes in a data shard, with the tensor's own masked CRC32C. This verifies all of it:
// the table's structure and block checksums, every tensor's checksum (DT_STRING layout included),
// and that sizes agree with dtype x shape.
import fs from "node:fs";
import path from "node:path";
import snappy from "snappyjs";
import { Crc32c, crc32c } from "@aws-crypto/crc32c";
import { AppError } from "../errors.ts";
import { asInt64, fields, ProtobufError } from "./protobuf.ts";
import { DTYPE_BYTES, dtypeName } from "./savedmodel/graph.ts";

const MAGIC = 0xdb4775248b80fb57n;
const MASK_DELTA = 0xa282ead8;

/** LevelDB/TensorFlow masked CRC32C. */
export function maskCrc(c: number): number {
  return ((((c >>> 15) | (c << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

export type BundleTensor = {
  name: string;
  dtype: string;
  shape: number[];
  shard: number;
  offset: number;
  size: number;
  sliced: boolean;
};
export type BundleInfo = { numShards: number; tensors: BundleTensor[]; parameterCount: number };

function bad(msg: string): AppError {
  return new AppError("unprocessable_entity", msg);
}

function varint(buf: Buffer, pos: number, what: string): [number, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw bad(`variables.index: truncated ${what}`);
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      if (result > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`variables.index: ${what} too large`);
      return [Number(result), pos];
    }
    shift += 7n;
  }
  throw bad(`variables.index: malformed varint in ${what}`);
}

function blockHandle(buf: Buffer, pos: number): [{ offset: number; size: number }, number] {
  const [offset, p1] = varint(buf, pos, "block offset");
  const [size, p2] = varint(buf, p1, "block size");
  return [{ offset, size }, p2];
}

/** Reads one block (checking its trailer CRC, decompressing Snappy) and returns its entries. */
function readBlock(file: Buffer, h: { offset: number; size: number }, what: string): Array<[Buffer, Buffer]> {
  if (h.offset + h.size + 5 > file.length)
    throw bad(`variables.index: ${what} block at ${h.offset} (+${h.size}) runs past the end of the file`);
  const raw = file.subarray(h.offset, h.offset + h.size);
  const type = file[h.offset + h.size]!;
  const stored = file.readUInt32LE(h.offset + h.size + 1);
  const actual = maskCrc(
    new Crc32c()
      .update(raw)
      .update(Buffer.from([type]))
      .digest(),
  );
  if (stored !== actual) throw bad(`variables.index: ${what} block checksum mismatch (CRC32C)`);
  let block: Buffer;
  if (type === 0) block = raw;
  else if (type === 1) {
    try {
      block = Buffer.from(snappy.uncompress(raw, 64 * 1024 * 1024));
    } catch (err) {
      throw bad(`variables.index: ${what} block is not valid Snappy: ${(err as Error).message}`);
    }
  } else throw bad(`variables.index: ${what} block has unknown compression type ${type}`);
  if (block.length < 4) throw bad(`variables.index: ${what} block too short`);
  const numRestarts = block.readUInt32LE(block.length - 4);
  const end = block.length - 4 - numRestarts * 4;
  if (numRestarts < 1 || end < 0) throw bad(`variables.index: ${what} block has a bad restart array`);
  const entries: Array<[Buffer, Buffer]> = [];
  let prev = Buffer.alloc(0);
  let pos = 0;
  while (pos < end) {
    let shared: number, nonShared: number, valueLen: number;
    [shared, pos] = varint(block, pos, "entry");
    [nonShared, pos] = varint(block, pos, "entry");
    [valueLen, pos] = varint(block, pos, "entry");
    if (shared > prev.length || pos + nonShared + valueLen > end)
      throw bad(`variables.index: ${what} block has a corrupt entry`);
    const key = Buffer.concat([prev.subarray(0, shared), block.subarray(pos, pos + nonShared)]);
    pos += nonShared;
    entries.push([key, block.subarray(pos, pos + valueLen)]);
    pos += valueLen;
    prev = key;
  }
  return entries;
}

export type Entry = {
  dtype: number;
  shape: number[];
  shard: number;
  offset: number;
  size: number;
  crc: number | null;
  sliced: boolean;
};

function bundleEntry(value: Buffer, name: string): Entry {
  const e: Entry = { dtype: 0, shape: [], shard: 0, offset: 0, size: 0, crc: null, sliced: false };
  try {
    for (const f of fields(value)) {
      if (f.field === 1 && f.wire === 0) e.dtype = Number(f.value);
      else if (f.field === 2 && f.wire === 2) {
        for (const d of fields(f.value))
          if (d.field === 2 && d.wire === 2)
            for (const s of fields(d.value)) if (s.field === 1 && s.wire === 0) e.shape.push(Number(asInt64(s.value)));
      } else if (f.field === 3 && f.wire === 0) e.shard = Number(f.value);
      else if (f.field === 4 && f.wire === 0) e.offset = Number(f.value);
      else if (f.field === 5 && f.wire === 0) e.size = Number(f.value);
      else if (f.field === 6 && f.wire === 5) e.crc = f.value.readUInt32LE(0);
      else if (f.field === 7) e.sliced = true;
    }
  } catch (err) {
    if (err instanceof ProtobufError)
      throw bad(`variables.index: entry for tensor ${name} is malformed: ${err.message}`);
    throw err;
  }
  return e;
}

function readVarint64(buf: Buffer, pos: number): [number, number] | null {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10 && pos < buf.length; i++) {
    const b = buf[pos++]!;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [result, pos];
    mul *= 128;
  }
  return null;
}

/** The checksum of a DT_STRING tensor: lengths (uint32, or uint64 when large), their stored CRC, then the bytes. */
function stringTensorCrc(bytes: Buffer, elements: number): number | null {
  const c = new Crc32c();
  let pos = 0;
  const lens: number[] = [];
  for (let i = 0; i < elements; i++) {
    const r = readVarint64(bytes, pos);
    if (!r) return null;
    lens.push(r[0]);
    pos = r[1];
    const b = Buffer.alloc(r[0] > 0xffffffff ? 8 : 4);
    if (r[0] > 0xffffffff) b.writeBigUInt64LE(BigInt(r[0]));
    else b.writeUInt32LE(r[0]);
    c.update(b);
  }
  if (pos + 4 > bytes.length) return null;
  c.update(bytes.subarray(pos, pos + 4));
  pos += 4;
  const total = lens.reduce((a, b) => a + b, 0);
  if (pos + total !== bytes.length) return null;
  c.update(bytes.subarray(pos));
  return c.digest();
}

export type OpenBundle = {
  numShards: number;
  entries: Map<string, Entry>;
  /** The bytes of a (non-sliced) tensor, bounds-checked against its shard. */
  bytesOf(name: string): Buffer;
  shardFile(shard: number): string;
};

/** Reads a tensor bundle's index (checking the table's structure and block checksums) and opens its shards lazily. */
export function openTensorBundle(prefix: string): OpenBundle {
  const indexPath = `${prefix}.index`;
  const file = fs.readFileSync(indexPath);
  if (file.length < 48) throw bad(`variables.index: only ${file.length} bytes, too short for a table`);
  const footer = file.subarray(file.length - 48);
  if (footer.readBigUInt64LE(40) !== MAGIC) throw bad("variables.index: bad table magic number (not a LevelDB table)");
  const [, p] = blockHandle(footer, 0);
  const [index] = blockHandle(footer, p);
  let numShards = 1;
  const entries = new Map<string, Entry>();
  for (const [, handleBuf] of readBlock(file, index, "index")) {
    const [h] = blockHandle(handleBuf, 0);
    for (const [key, value] of readBlock(file, h, "data")) {
      const name = key.toString("utf8");
      if (name === "") {
        for (const f of fields(value)) if (f.field === 1 && f.wire === 0) numShards = Number(f.value);
        continue;
      }
      entries.set(name, bundleEntry(value, name));
    }
  }
  if (numShards < 1 || numShards > 100_000) throw bad(`variables.index: header says ${numShards} shards`);
  const shards = new Map<number, Buffer>();
  const shardPath = (i: number) =>
    `${prefix}.data-${String(i).padStart(5, "0")}-of-${String(numShards).padStart(5, "0")}`;
  const shardBytes = (i: number) => {
    if (!shards.has(i)) {
      const p2 = shardPath(i);
      if (!fs.existsSync(p2)) throw bad(`${path.basename(p2)} is missing`);
      shards.set(i, fs.readFileSync(p2));
    }
    return shards.get(i)!;
  };
  const bytesOf = (name: string) => {
    const e = entries.get(name);
    if (!e) throw bad(`variables.index has no tensor ${name}`);
    if (e.sliced) throw bad(`tensor ${name} is stored as slices (a partitioned variable)`);
    if (e.shard >= numShards) throw bad(`variables.index: tensor ${name} is in shard ${e.shard} of ${numShards}`);
    const data = shardBytes(e.shard);
    if (e.offset + e.size > data.length)
      throw bad(
        `${path.basename(shardPath(e.shard))}: tensor ${name} needs bytes ${e.offset}..${e.offset + e.size} but the shard has ${data.length} (truncated)`,
      );
    return data.subarray(e.offset, e.offset + e.size);
  };
  return { numShards, entries, bytesOf, shardFile: (i) => path.basename(shardPath(i)) };
}

/** Verifies a tensor bundle. `prefix` is e.g. `<dir>/variables/variables`. Throws 422 naming the tensor. */
export function verifyTensorBundle(prefix: string): BundleInfo {
  const bundle = openTensorBundle(prefix);
  const { numShards } = bundle;
  const tensors: BundleTensor[] = [];
  let parameterCount = 0;
  for (const [name, e] of bundle.entries) {
    const elements = e.shape.reduce((a, b) => a * b, 1);
    const shardFile = bundle.shardFile(e.shard);
    if (!e.sliced) {
      const bytes = bundle.bytesOf(name);
      const per = DTYPE_BYTES[e.dtype];
      if (per !== undefined && e.size !== elements * per)
        throw bad(
          `${shardFile}: tensor ${name} is ${e.size} bytes but ${dtypeName(e.dtype)} ${JSON.stringify(e.shape)} needs ${elements * per}`,
        );
      if (e.crc !== null) {
        const actual = e.dtype === 7 ? stringTensorCrc(bytes, elements) : crc32c(bytes);
        if (actual === null) throw bad(`${shardFile}: tensor ${name} has a malformed string layout`);
        if (maskCrc(actual) !== e.crc) throw bad(`${shardFile}: tensor ${name} CRC32C mismatch`);
      }
      if (e.dtype !== 7) parameterCount += elements;
    }
    tensors.push({
      name,
      dtype: dtypeName(e.dtype),
      shape: e.shape,
      shard: e.shard,
      offset: e.offset,
      size: e.size,
      sliced: e.sliced,
    });
  }
  return { numShards, tensors, parameterCount };
}
