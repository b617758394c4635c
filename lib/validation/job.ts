// The validation job and admin re-validation. Kept apart from the validator so that route handlers
// can queue work without loading the sandbox runner (the worker loads it when a job runs).
import { z } from "zod";
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "../audit.ts";
import { defineJob } from "../jobs/define-job.ts";
import { getQueue } from "../jobs/queue.ts";
import type { Principal } from "../auth/principal.ts";

// This file's own URL with its name swapped (no `new URL(..., import.meta.url)`: bundlers treat that as an asset).
const VALIDATOR = import.meta.url.replace(/job\.ts$/, "validate-version.ts");

export const validateVersionJob = defineJob({
  name: "validate-version",
  schema: z.object({ versionId: z.string().min(1) }),
  retryLimit: 3,
  expireInSeconds: 3600,
  concurrency: 1,
  async handle({ versionId }) {
    // Not followed by the page-app bundler: only the worker (plain Node) runs validations.
    const { validateVersion } = (await import(/* turbopackIgnore: true */ /* webpackIgnore: true */ VALIDATOR)) as typeof import("./validate-version.ts");
    const r = await validateVersion({ versionId });
    return { status: r.status };
  },
});

/**
 * Admin re-validation: queues a new validation run for a version (history is kept). Approved and
 * rejected versions are decided and are not re-validated (409); a run already in progress is 409.
 */
export async function requestRevalidation(input: { handle: string; version: number; actor: Principal; ip?: string | null }) {
  const prisma = await db();
  const v = await prisma.version.findFirst({ where: { number: input.version, module: { handle: input.handle.toLowerCase() } }, include: { module: true } });
  if (!v) throw new AppError("not_found", `no version ${input.version} of ${input.handle}`);
  if (v.status === "approved" || v.status === "rejected") throw new AppError("conflict", `${v.module.handle} version ${v.number} is ${v.status}; it is not validated again`);
  if (v.status === "validating") throw new AppError("conflict", `${v.module.handle} version ${v.number} is being validated now`);
  await prisma.version.update({ where: { id: v.id }, data: { status: "pending" } });
  await (await getQueue()).enqueue(validateVersionJob, { versionId: v.id });
  await recordAudit({ actor: input.actor, action: "version.revalidate", targetType: "version", target: `${v.module.handle}/${v.number}`, ip: input.ip ?? null, details: { previousStatus: v.status } });
  return { handle: v.module.handle, version: v.number, status: "pending" as const, previousStatus: v.status };
}
