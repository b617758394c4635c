// Child process for the kill-mid-fetch test: runs one mirror fetch (as a worker would) against the
// fake upstream in the parent. Env: DATABASE_URL or PGLITE_DIR, BLOB_DIR, MIRROR_ID, UPSTREAM.
import { openDatabase, setDatabase } from "../../lib/db/client.ts";
import { FsBlobStore, setBlobStore } from "../../lib/storage/index.ts";
import { runMirrorFetch } from "../../lib/models/mirror-fetch.ts";

const handle = await openDatabase({
  databaseUrl: process.env.DATABASE_URL || undefined,
  pgliteDir: process.env.PGLITE_DIR,
});
setDatabase(handle);
setBlobStore(new FsBlobStore({ root: process.env.BLOB_DIR! }));
const up = new URL(process.env.UPSTREAM!);
process.stdout.write("START\n");
const done = await runMirrorFetch(process.env.MIRROR_ID!, {
  policy: { allowedHosts: [up.host], upstreamBase: up.origin, allowPrivate: true, retries: 1, backoffMs: 20 },
});
process.stdout.write(`DONE ${done.status}\n`);
await handle.close();
