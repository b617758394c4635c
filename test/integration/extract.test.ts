// Safe extraction: generated malicious archives are refused with their specific reason, nothing is
// written outside the private temp directory, and it is removed afterwards; real fixtures extract.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { extractArchive } from "../../lib/archive/extract.ts";
import { ArchiveError, normaliseEntryName } from "../../lib/archive/read-archive.ts";
import { fixturePath, listFixtureFiles } from "../helpers/fixtures.ts";

let parent: string;
let outside: string;
before(() => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-extract-test-"));
  parent = path.join(root, "work");
  outside = root;
  fs.mkdirSync(parent);
});
after(() => fs.rmSync(outside, { recursive: true, force: true }));

type Entry = Partial<tar.Header> & { name: string; body?: Buffer };

async function makeTar(entries: Entry[], gzip = true): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  // Read while writing: pack applies back-pressure.
  const collected = (async () => {
    for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const e of entries) {
    const { body, ...header } = e;
    await new Promise<void>((resolve, reject) => {
      const h = {
        mode: 0o644,
        ...header,
        ...(header.type === undefined || header.type === "file" ? { size: body?.length ?? 0 } : {}),
      } as tar.Header;
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      pack.entry(h, body ?? Buffer.alloc(0), cb);
    });
  }
  pack.finalize();
  await collected;
  const raw = Buffer.concat(chunks);
  return gzip ? zlib.gzipSync(raw, { level: 9 }) : raw;
}

const file = (name: string, body = "x") => ({ name, body: Buffer.from(body) });

async function refused(archive: Buffer, reason: ArchiveError["reason"], message: RegExp, limits = {}) {
  await assert.rejects(extractArchive(Readable.from([archive]), { parentDir: parent, limits }), (err: unknown) => {
    assert.ok(err instanceof ArchiveError, String(err));
    assert.equal(err.reason, reason, err.message);
    assert.match(err.message, message);
    assert.equal(err.status, 422);
    return true;
  });
  assert.deepEqual(fs.readdirSync(parent), [], "the temp directory is removed");
  assert.deepEqual(fs.readdirSync(outside).sort(), ["work"], "nothing was written outside it");
}

test("real fixtures extract, files only, into a private directory that is removed on cleanup", async () => {
  const ex = await extractArchive(
    fs.createReadStream(fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz")),
    { parentDir: parent },
  );
  assert.equal(fs.statSync(ex.dir).mode & 0o777, 0o700);
  assert.deepEqual(
    ex.files.map((f) => f.path),
    listFixtureFiles(fixturePath("hub-half_plus_two_v1_extracted")),
  );
  for (const f of ex.files) {
    assert.deepEqual(
      fs.readFileSync(path.join(ex.dir, f.path)),
      fs.readFileSync(path.join(fixturePath("hub-half_plus_two_v1_extracted"), f.path)),
    );
  }
  await ex.cleanup();
  assert.equal(fs.existsSync(ex.dir), false);
});

test("every entry type but files and directories is refused by name", async () => {
  await refused(
    await makeTar([file("saved_model.pb"), { name: "link", type: "symlink", linkname: "/etc/passwd" }]),
    "entry_type",
    /archive entry 'link' is a symlink: links are not allowed/,
  );
  await refused(
    await makeTar([file("saved_model.pb"), { name: "hard", type: "link", linkname: "saved_model.pb" }]),
    "entry_type",
    /'hard' is a hard link: links are not allowed/,
  );
  await refused(
    await makeTar([{ name: "dev", type: "character-device", devmajor: 1, devminor: 3 }]),
    "entry_type",
    /'dev' is a character device/,
  );
  await refused(
    await makeTar([{ name: "blk", type: "block-device", devmajor: 8, devminor: 0 }]),
    "entry_type",
    /'blk' is a block device/,
  );
  await refused(await makeTar([{ name: "pipe", type: "fifo" }]), "entry_type", /'pipe' is a FIFO/);
});

test("absolute, drive-letter and escaping paths are refused", async () => {
  await refused(await makeTar([file("/etc/cron.d/evil")]), "path", /'\/etc\/cron.d\/evil' has an absolute path/);
  await refused(await makeTar([file("../evil")]), "path", /'\.\.\/evil' escapes the archive/);
  await refused(await makeTar([file("variables/../../evil")]), "path", /escapes the archive/);
  await refused(await makeTar([file("C:\\Windows\\evil")]), "path", /drive-letter path/);
  assert.equal(fs.existsSync(path.join(outside, "evil")), false);
  assert.throws(() => normaliseEntryName("a\0b"), /NUL byte/);
  assert.equal(normaliseEntryName("./variables//variables.index"), "variables/variables.index");
});

test("duplicates and names colliding after Unicode normalisation or case folding are refused", async () => {
  await refused(
    await makeTar([file("saved_model.pb"), file("saved_model.pb", "y")]),
    "collision",
    /'saved_model.pb' appears twice/,
  );
  await refused(await makeTar([file("Model.pb"), file("model.pb")]), "collision", /'Model.pb' and 'model.pb' collide/);
  await refused(await makeTar([file("caf\u00e9.txt"), file("cafe\u0301.txt")]), "collision", /collide/);
});

test("limits: entries, depth, total bytes and decompression ratio, each with its own error", async () => {
  await refused(await makeTar(Array.from({ length: 6 }, (_, i) => file(`f${i}`))), "entries", /more than 5 entries/, {
    maxEntries: 5,
  });
  await refused(await makeTar([file("a/b/c/d/e.txt")]), "depth", /nested 5 levels deep \(limit 3\)/, { maxDepth: 3 });
  await refused(await makeTar([file("big", "z".repeat(2000))]), "size", /expands to more than 1000 bytes/, {
    maxTotalBytes: 1000,
  });
  const bomb = await makeTar([{ name: "zeros", body: Buffer.alloc(16 * 1024 * 1024) }]);
  assert.ok(bomb.length < 40_000, `bomb is ${bomb.length} bytes`);
  await refused(bomb, "ratio", /decompresses more than 100:1 .* decompression bomb/, { maxRatio: 100 });
});

test("truncated, corrupt and non-archive input is refused", async () => {
  const good = fs.readFileSync(fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz"));
  await refused(good.subarray(0, Math.floor(good.length / 2)), "corrupt", /corrupt or truncated/);
  const corrupt = Buffer.from(good);
  for (let i = 200; i < 260; i++) corrupt[i] = corrupt[i]! ^ 0xff;
  await refused(corrupt, "corrupt", /corrupt or truncated/);
  await refused(
    Buffer.from("<!DOCTYPE html><html>not found</html>"),
    "not_archive",
    /not a tar or tar.gz archive \(it starts with "<!DOCTYPE html>/,
  );
  await refused(Buffer.alloc(0), "empty", /empty/);
  const plainTar = await makeTar([file("saved_model.pb", "pb")], false);
  const ex = await extractArchive(Readable.from([plainTar]), { parentDir: parent });
  assert.deepEqual(ex.files, [{ path: "saved_model.pb", size: 2 }]);
  await ex.cleanup();
});

test("truncation at any point, in any chunking, is refused without a late error escaping", async () => {
  // A gunzip error arriving after an entry's consumer finished used to reach that entry's stream
  // with no listener left: an uncaught exception that killed the process (seen once in CI).
  const good = fs.readFileSync(fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz"));
  const escaped: unknown[] = [];
  const onUncaught = (err: unknown) => escaped.push(err);
  process.on("uncaughtException", onUncaught);
  try {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 300; i++) {
      const cut = Math.floor(good.length * (0.1 + 0.85 * rand()));
      const chunks: Buffer[] = [];
      for (let o = 0; o < cut;) {
        const n = 256 + Math.floor(rand() * 4096);
        chunks.push(good.subarray(o, Math.min(cut, o + n)));
        o += n;
      }
      await assert.rejects(
        extractArchive(Readable.from(chunks), { parentDir: parent }),
        (e: unknown) => e instanceof ArchiveError,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    process.off("uncaughtException", onUncaught);
  }
  assert.deepEqual(escaped, []);
  assert.deepEqual(fs.readdirSync(parent), [], "every extraction directory is removed");
});
