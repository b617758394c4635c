// Disk full: a put that runs out of space fails with a typed error and leaves no committed blob and
// no staging file. Uses a real 1 MiB tmpfs (needs root, as in CI; otherwise reported as skipped).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { spawnSync } from "node:child_process";
import { FsBlobStore, StoreUnavailableError } from "../../lib/storage/index.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-diskfull-"));
let mounted = false;

before(() => {
  mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]).status === 0;
});
after(() => {
  if (mounted) spawnSync("umount", [dir]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a put that fills the disk is a typed error and commits nothing", async (t) => {
  if (!mounted) return t.skip("cannot mount a tmpfs here (not root)");
  const store = new FsBlobStore({ root: dir });
  const small = await store.put(Readable.from([Buffer.alloc(100 * 1024, 1)]));
  assert.equal(small.created, true);
  const chunk = Buffer.alloc(256 * 1024, 7);
  await assert.rejects(store.put(Readable.from(Array.from({ length: 8 }, () => chunk))), (err: unknown) => {
    assert.ok(err instanceof StoreUnavailableError, String(err));
    assert.match((err as Error).message, /ENOSPC|no space/i);
    return true;
  });
  const listed = [];
  for await (const b of store.list()) listed.push(b.digest);
  assert.deepEqual(listed, [small.digest], "only the earlier blob is committed");
  const staging = [];
  for await (const s of store.listStaging()) staging.push(s);
  assert.deepEqual(staging, [], "the partial staging file was removed");
  assert.ok(await store.stat(small.digest), "earlier blobs are intact");
});
