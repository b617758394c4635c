// Child process for the crash test: publishes a real fixture and stops dead at CRASH_AT (printing
// "AT <step>") so the parent can SIGKILL it there. Env: DATABASE_URL or PGLITE_DIR, BLOB_DIR,
// HANDLE, CRASH_AT = mid-put | blobs-checked | in-transaction.
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { openDatabase, setDatabase } from "../../lib/db/client.ts";
import { FsBlobStore, setBlobStore } from "../../lib/storage/index.ts";
import { publishVersion } from "../../lib/models/versions.ts";
import { fixturePath, listFixtureFiles } from "./fixtures.ts";

const crashAt = process.env.CRASH_AT!;
const hang = async (step: string) => {
  process.stdout.write(`AT ${step}\n`);
  await new Promise(() => {});
};

const handle = await openDatabase({ databaseUrl: process.env.DATABASE_URL, pgliteDir: process.env.PGLITE_DIR });
setDatabase(handle);
const store = new FsBlobStore({ root: process.env.BLOB_DIR! });
setBlobStore(store);

const root = fixturePath("hub-half_plus_two_v1_extracted");
const files = [];
for (const rel of listFixtureFiles(root)) {
  const bytes = fs.readFileSync(path.join(root, rel));
  if (crashAt === "mid-put" && rel.startsWith("variables/variables.data")) {
    // Half the bytes, then stall: the process dies with a staged, uncommitted blob.
    async function* halfThenStall() {
      yield bytes.subarray(0, bytes.length >> 1);
      await hang("mid-put");
    }
    await store.put(Readable.from(halfThenStall()));
  }
  const r = await store.put(Readable.from([bytes]));
  files.push({ path: rel, digest: r.digest, size: r.size });
}
const archive = await store.put(
  fs.createReadStream(fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz")),
);
await publishVersion({
  handle: process.env.HANDLE!,
  version: 1,
  format: "tf1_hub",
  source: { kind: "upstream", url: `https://tfhub.dev/${process.env.HANDLE}/1`, fetchedAt: new Date() },
  primary: archive,
  files,
  actor: null,
  onStep: async (step) => {
    if (step === crashAt) await hang(step);
  },
});
process.stdout.write("PUBLISHED\n");
await handle.close();
