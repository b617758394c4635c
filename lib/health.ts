// GET /healthz: really touches the database and the blob store, each with a deadline.
import { pingDatabase, withTimeout } from "./db/client.ts";
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
    withTimeout(pingDatabase(), DEADLINE_MS, "checking the database").catch((err) => (errors.db = message(err))),
    withTimeout(getBlobStore().check(), DEADLINE_MS, "checking the blob store").catch(
      (err) => (errors.store = message(err)),
    ),
  ]);
  const down = Object.keys(errors).length > 0;
  return {
    status: down ? "unavailable" : "ok",
    db: errors.db ? "down" : "ok",
    store: errors.store ? "down" : "ok",
    ...(down ? { errors } : {}),
  };
}

// Readiness (GET /readyz): separate from liveness. A process is `starting` until its database, blob
// store and migrations are ready, `ready` while it serves, and `draining` from SIGTERM until it
// exits. Kept on globalThis: the server entry sets it and the bundled route handler reads it.
export type Readiness = "starting" | "ready" | "draining";
type ReadinessState = { __hubkeepReadiness?: Readiness };
const readinessState = globalThis as ReadinessState;

export function setReadiness(state: Readiness): void {
  readinessState.__hubkeepReadiness = state;
}

export function getReadiness(): Readiness {
  // A process that never declared itself (a route run by tests or another embedder) is ready.
  return readinessState.__hubkeepReadiness ?? "ready";
}

export type ReadyReport = {
  status: "ready" | "starting" | "draining" | "unavailable";
  db?: "ok" | "down";
  store?: "ok" | "down";
  errors?: Health["errors"];
};

/** 200 only when this process serves and its database and blob store answer now. */
export async function checkReadiness(): Promise<{ ready: boolean; report: ReadyReport }> {
  const state = getReadiness();
  if (state !== "ready") return { ready: false, report: { status: state } };
  const health = await checkHealth();
  if (health.status !== "ok")
    return {
      ready: false,
      report: { status: "unavailable", db: health.db, store: health.store, errors: health.errors },
    };
  return { ready: true, report: { status: "ready", db: "ok", store: "ok" } };
}
