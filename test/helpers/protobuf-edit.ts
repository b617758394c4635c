// Test-only protobuf rewriting, to build corrupted variants of real saved_model.pb files at test
// time (the fixtures stay as they are). `editMessage` re-encodes a message field by field; the
// visitor sees each field with its path of field numbers and may keep, drop, replace or descend.
import { fields, type Field } from "../../lib/formats/protobuf.ts";

function varint(n: bigint): Buffer {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

export function encodeField(f: Field): Buffer {
  const key = varint(BigInt((f.field << 3) | f.wire));
  if (f.wire === 0) return Buffer.concat([key, varint(f.value)]);
  if (f.wire === 2) return Buffer.concat([key, varint(BigInt(f.value.length)), f.value]);
  return Buffer.concat([key, f.value]);
}

export const lengthDelimited = (field: number, value: Buffer | string): Field => ({
  field,
  wire: 2,
  value: Buffer.isBuffer(value) ? value : Buffer.from(value),
});

/** What to do with one field: keep it, drop it, replace it with other fields, or descend into it (a message). */
export type Action = "keep" | "drop" | "descend" | Field[];

export function editMessage(buf: Buffer, visit: (path: number[], f: Field) => Action, path: number[] = []): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields(buf)) {
    const p = [...path, f.field];
    const a = visit(p, f);
    if (a === "keep") parts.push(encodeField(f));
    else if (a === "descend" && f.wire === 2) parts.push(encodeField({ ...f, value: editMessage(f.value, visit, p) }));
    else if (Array.isArray(a)) for (const r of a) parts.push(encodeField(r));
    else if (a === "descend") parts.push(encodeField(f));
  }
  return Buffer.concat(parts);
}

/** The string value of field `n` of a message, if present. */
export function stringField(buf: Buffer, n: number): string | null {
  for (const f of fields(buf)) if (f.field === n && f.wire === 2) return f.value.toString("utf8");
  return null;
}
