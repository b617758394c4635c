// TFLite: a FlatBuffer with the file identifier "TFL3" at bytes 4..8. Checks the identifier, that
// the root table and its vtable lie inside the file, and reads the schema version (field 0).
import { AppError } from "../errors.ts";

export type TfliteInfo = { size: number; schemaVersion: number | null };

export function inspectTflite(buf: Buffer): TfliteInfo {
  const bad = (why: string) => new AppError("unprocessable_entity", `not a valid TFLite model: ${why}`);
  if (buf.length < 16) throw bad(`only ${buf.length} bytes`);
  const ident = buf.subarray(4, 8).toString("latin1");
  if (ident !== "TFL3") throw bad(`file identifier is ${JSON.stringify(ident)}, expected "TFL3"`);
  const root = buf.readUInt32LE(0);
  if (root < 8 || root + 4 > buf.length) throw bad(`root table offset ${root} is outside the ${buf.length}-byte file`);
  const vtable = root - buf.readInt32LE(root);
  if (vtable < 0 || vtable + 4 > buf.length) throw bad(`vtable offset ${vtable} is outside the file`);
  const vtableSize = buf.readUInt16LE(vtable);
  const tableSize = buf.readUInt16LE(vtable + 2);
  if (vtableSize < 4 || vtable + vtableSize > buf.length || root + tableSize > buf.length)
    throw bad("vtable or root table runs past the end of the file");
  let schemaVersion: number | null = null;
  if (vtableSize >= 6) {
    const off = buf.readUInt16LE(vtable + 4);
    if (off) {
      if (root + off + 4 > buf.length) throw bad("version field runs past the end of the file");
      schemaVersion = buf.readUInt32LE(root + off);
    }
  }
  return { size: buf.length, schemaVersion };
}
