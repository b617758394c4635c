// Child process for the cross-process single-flight test: N concurrent mirror requests from this
// process. Env: DATABASE_URL, HUBKEEP_UPSTREAM_* (the fake upstream), URL, N.
import { openDatabase, setDatabase } from "../../lib/db/client.ts";
import { startQueue, setQueue } from "../../lib/jobs/queue.ts";
import { requestMirror } from "../../lib/models/mirror-request.ts";

const handle = await openDatabase({ databaseUrl: process.env.DATABASE_URL });
setDatabase(handle);
const queue = await startQueue(handle, { supervise: false });
setQueue(queue);
const actor = {
  kind: "user" as const,
  userId: "u1",
  email: "pub@example.com",
  role: "publisher" as const,
  scope: "publish" as const,
  via: "token" as const,
  namespaces: [],
};
process.stdout.write("READY\n");
await new Promise((r) => process.stdin.once("data", r));
const n = Number(process.env.N ?? 25);
const results = await Promise.all(Array.from({ length: n }, () => requestMirror({ url: process.env.URL!, actor })));
process.stdout.write(`IDS ${JSON.stringify(results.map((r) => r.mirror.id))}\n`);
process.stdout.write(`VERSIONS ${JSON.stringify(results.map((r) => r.mirror.version))}\n`);
await queue.stop({ graceful: false, timeoutMs: 2000 });
await handle.close();
