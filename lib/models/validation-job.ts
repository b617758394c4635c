// The validation job and admin re-validation. Kept apart from the validator so that route handlers
// can queue work without loading the sandbox runner (the worker loads it when a job runs).
import { z } from "zod";
import { AppError } from "../errors.ts";
import { recordAudit } from "./audit.ts";
import { defineJob } from "../jobs/define-job.ts";
import { findVersion, transitionVersionOrThrow } from "./versions.ts";
import { leaseExpired, releaseAbandoned } from "./validation-lease.ts";
import { isDecided } from "./version-status.ts";
import { getQueue } from "../jobs/queue.ts";
import { getEnv } from "../env.ts";
import type { Principal } from "../auth/principal.ts";

// This file's own URL with its name swapped (no `new URL(..., import.meta.url)`: bundlers treat that as an asset).
const VALIDATOR = import.meta.url.replace(/validation-job\.ts$/, "validate-version.ts");

export const validateVersionJob = defineJob({
  name: "validate-version",
  schema: z.object({ versionId: z.string().min(1) }),
  retryLimit: 3,
  expireInSeconds: 3600,
  // A dead worker's job is retried after this; validation-lease.ts's LEASE_EXPIRES_MS stays below it.
  heartbeatSeconds: 30,
  concurrency: 1,
  // Extraction, static checks and every sandbox run together; the sandbox's own timeout is per run.
  budgetMs: () => getEnv().jobs.validateBudgetMs,
  budgetVariable: "HUBKEEP_VALIDATE_BUDGET_SECONDS",
  async handle({ versionId }, ctx) {
    // Not followed by the page-app bundler: only the worker (plain Node) runs validations.
    const { validateVersion } = (await import(
      /* turbopackIgnore: true */ /* webpackIgnore: true */ VALIDATOR
    )) as typeof import("./validate-version.ts");
    try {
      // Only the `pending` version the job was queued for: a version another worker holds, has
      // already validated, or an admin decided is left alone (the job completes as skipped).
      const r = await validateVersion({ versionId, from: ["pending"], signal: ctx.signal });
      return { status: r.status };
    } catch (err) {
      if (err instanceof AppError && err.code === "conflict" && err.details?.status)
        return { status: err.details.status, skipped: true };
      throw err;
    }
  },
});

/** Queues validation of a new version; without a queue in this process it stays `pending` (re-validate later). */
export async function enqueueValidation(versionId: string): Promise<void> {
  try {
    await (await getQueue()).enqueue(validateVersionJob, { versionId });
  } catch (err) {
    console.error(`hubkeep: could not queue validation of version ${versionId}: ${(err as Error).message}`);
  }
}

/**
 * Admin re-validation: queues a new validation run for a version (history is kept). Approved and
 * rejected versions are decided and are not re-validated (409); a run in progress is 409 unless its
 * worker died (validation-lease.ts).
 */
export async function requestRevalidation(input: {
  handle: string;
  version: number;
  actor: Principal;
  ip?: string | null;
}) {
  const v = await findVersion(input.handle, input.version, { module: true });
  if (!v) throw new AppError("not_found", `no version ${input.version} of ${input.handle}`);
  const target = `${v.module.handle} version ${v.number}`;
  if (isDecided(v.status))
    throw new AppError("conflict", `${target} is ${v.status}; it is not validated again`, { status: v.status });
  // A validation whose worker died (its lease expired) may be restarted; a live one may not.
  if (v.status === "validating" && !leaseExpired(v))
    throw new AppError("conflict", `${target} is being validated now`, { status: v.status });
  if (v.status === "validating") {
    if (!(await releaseAbandoned(v.id)))
      throw new AppError("conflict", `${target} is being validated now`, { status: v.status });
  } else {
    await transitionVersionOrThrow(
      v.id,
      [v.status],
      "pending",
      {},
      {
        message: (now) =>
          `${target} is ${now}: it changed while re-validation was being requested; reload and try again`,
      },
    );
  }
  await (await getQueue()).enqueue(validateVersionJob, { versionId: v.id });
  await recordAudit({
    actor: input.actor,
    action: "version.revalidate",
    targetType: "version",
    target: `${v.module.handle}/${v.number}`,
    ip: input.ip ?? null,
    details: { previousStatus: v.status },
  });
  return { handle: v.module.handle, version: v.number, status: "pending" as const, previousStatus: v.status };
}
