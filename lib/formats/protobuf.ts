// A small, strict protobuf wire-format reader for the TensorFlow messages Hubkeep inspects. It
// never trusts a length: every field is bounds-checked, varints are limited to 10 bytes, groups are
// refused, and callers bound recursion. Malformed input throws ProtobufError naming the offset.
export class ProtobufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtobufError";
  }
}

export type Field =
  | { field: number; wire: 0; value: bigint }
  | { field: number; wire: 1; value: Buffer }
  | { field: number; wire: 2; value: Buffer }
  | { field: number; wire: 5; value: Buffer };

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtobufError(`truncated varint at offset ${pos}`);
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
  throw new ProtobufError(`varint longer than 10 bytes at offset ${pos}`);
}

/** The fields of one message, in order. */
export function* fields(buf: Buffer): Generator<Field> {
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = readVarint(buf, pos);
    pos = p1;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw new ProtobufError(`field number 0 at offset ${pos}`);
    switch (wire) {
      case 0: {
        const [v, p2] = readVarint(buf, pos);
        pos = p2;
        yield { field, wire, value: v };
        break;
      }
      case 1:
      case 5: {
        const n = wire === 1 ? 8 : 4;
        if (pos + n > buf.length) throw new ProtobufError(`truncated fixed field ${field} at offset ${pos}`);
        yield { field, wire, value: buf.subarray(pos, pos + n) };
        pos += n;
        break;
      }
      case 2: {
        const [len, p2] = readVarint(buf, pos);
        pos = p2;
        if (len > BigInt(buf.length - pos))
          throw new ProtobufError(`field ${field} claims ${len} bytes at offset ${pos}, past the end`);
        const n = Number(len);
        yield { field, wire, value: buf.subarray(pos, pos + n) };
        pos += n;
        break;
      }
      default:
        throw new ProtobufError(`unsupported wire type ${wire} for field ${field} at offset ${pos}`);
    }
  }
}

export const asInt64 = (v: bigint) => BigInt.asIntN(64, v);
export const asString = (b: Buffer) => b.toString("utf8");

/** Decodes a packed or unpacked repeated varint field value. */
export function packedVarints(f: Field): bigint[] {
  if (f.wire === 0) return [f.value];
  if (f.wire !== 2) throw new ProtobufError(`field ${f.field}: expected varints`);
  const out: bigint[] = [];
  let pos = 0;
  while (pos < f.value.length) {
    const [v, p] = readVarint(f.value, pos);
    out.push(v);
    pos = p;
  }
  return out;
}
