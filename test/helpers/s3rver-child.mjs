// s3rver in a process of its own (test/helpers/s3.ts starts it). In-process, s3rver's own errors
// after a client aborted a request (it goes on writing or reading a staging object the client has
// deleted meanwhile: ENOENT) surfaced as the running test's failure; here they are reported on
// stderr and the server goes on. Prints {"port"} on its first line; stops on SIGTERM.
import { createRequire } from "node:module";

const S3rver = createRequire(import.meta.url)("s3rver");
const directory = process.argv[2];
process.on("uncaughtException", (err) => console.error(`s3rver (test server) internal error: ${err.message}`));
process.on("unhandledRejection", (err) => console.error(`s3rver (test server) internal error: ${String(err)}`));
const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.on("SIGTERM", () => {
  server.httpServer?.closeAllConnections?.();
  server.close().finally(() => process.exit(0));
});
