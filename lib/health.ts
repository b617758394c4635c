// GET /healthz: really touches the database and the blob store, each with a deadline.
import { getDatabase, withTimeout } from "./db/client.ts";
import { getBlobStore } from "./storage/index.ts";

export type Health = {
  status: "ok" | "unavailable";
  db: "ok" | "down";
  store: "ok" | "down";
  errors?: { db?: string; store?: string };
};

const DEADLINE_MS = 3000;

function message(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0]! : String(err);
}

export async function checkHealth(): Promise<Health> {
  const errors: { db?: string; store?: string } = {};
  await Promise.all([
    withTimeout(
      (async () => {
        const handle = await getDatabase();
        await handle.prisma.$queryRawUnsafe("SELECT 1");
      })(),
      DEADLINE_MS,
      "checking the database",
    ).catch((err) => (errors.db = message(err))),
    withTimeout(getBlobStore().check(), DEADLINE_MS, "checking the blob store").catch((err) => (errors.store = message(err))),
  ]);
  const down = Object.keys(errors).length > 0;
  return {
    status: down ? "unavailable" : "ok",
    db: errors.db ? "down" : "ok",
    store: errors.store ? "down" : "ok",
    ...(down ? { errors } : {}),
  };
}
