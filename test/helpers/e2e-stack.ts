// A whole Hubkeep for a browser test: the fake upstream, a real server on a free loopback port with
// a public URL on `localhost` (next-auth's callbacks need it, see the offline-stack notes), the
// real PostgreSQL and S3 when DATABASE_URL / S3_ENDPOINT are set, embedded defaults otherwise.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, startServer, type RunningServer } from "./server.ts";
import { startFakeUpstream, type FakeUpstream } from "./fake-upstream.ts";
import { createEmptyPostgresDatabase, usingPostgres } from "./db.ts";
import { s3TestEnv } from "./s3.ts";

export type E2EStack = {
  base: string;
  server: RunningServer;
  upstream: FakeUpstream;
  admin: { email: string; password: string };
  stop(): Promise<void>;
};

export async function startE2EStack(extra: Record<string, string> = {}): Promise<E2EStack> {
  const upstream = await startFakeUpstream();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-e2e-"));
  const port = await freePort();
  const admin = { email: "admin@example.com", password: "correct-horse-battery" };
  const env: Record<string, string | undefined> = {
    PORT: String(port),
    HUBKEEP_PUBLIC_URL: `http://localhost:${port}`,
    HUBKEEP_DATA_DIR: path.join(work, "data"),
    HUBKEEP_UPSTREAM_TFHUB: upstream.base,
    HUBKEEP_UPSTREAM_HOSTS: `127.0.0.1:${upstream.port}`,
    HUBKEEP_ALLOW_PRIVATE_UPSTREAM: "true",
    HUBKEEP_ALLOWLIST: "tensorflow/*,google/*",
    HUBKEEP_ADMIN_EMAIL: admin.email,
    HUBKEEP_ADMIN_PASSWORD: admin.password,
    HUBKEEP_VALIDATE_TIMEOUT_SECONDS: "120",
    ...extra,
  };
  const cleanups: Array<() => Promise<void>> = [];
  if (usingPostgres()) {
    const db = await createEmptyPostgresDatabase();
    env.DATABASE_URL = db.url;
    cleanups.push(db.drop);
  }
  if (process.env.S3_ENDPOINT) {
    const s3 = await s3TestEnv();
    Object.assign(env, s3.env);
    cleanups.push(s3.cleanup);
  }
  const server = await startServer(env);
  return {
    base: `http://localhost:${port}`,
    server,
    upstream,
    admin,
    async stop() {
      await server.stop();
      await upstream.close();
      for (const c of cleanups.reverse()) await c().catch(() => {});
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}
