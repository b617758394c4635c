// A validation's lease on its `validating` version. The worker that moved a version to `validating`
// renews `updatedAt` while it works; a `validating` version not renewed for LEASE_EXPIRES_MS has lost
// its worker (it died), and the next validation or re-validation may take it back to `pending`.
// Taking over is safe even if the old worker was only slow: its run is closed here, and a worker
// whose run is no longer `running` writes nothing (see validate-version.ts).
import { db } from "../db/client.ts";
import { transitionVersion } from "./versions.ts";

export const LEASE_RENEW_MS = 5_000;
/** Below pg-boss's 30 s heartbeat: when it retries a dead worker's job, the lease has always expired. */
export const LEASE_EXPIRES_MS = 20_000;

export const leaseExpired = (v: { status: string; updatedAt: Date }) =>
  v.status === "validating" && v.updatedAt.getTime() < Date.now() - LEASE_EXPIRES_MS;

/** Renews the lease while `runId` is still the version's running validation. */
export async function renewLease(versionId: string, runId: string): Promise<void> {
  const prisma = await db();
  await prisma.version.updateMany({
    where: { id: versionId, status: "validating", validationRuns: { some: { id: runId, status: "running" } } },
    data: { updatedAt: new Date() },
  });
}

/**
 * Moves a `validating` version whose lease expired back to `pending` and closes its running runs as
 * `error`, in one transaction. Returns false if it was not abandoned (or another caller took it first).
 */
export async function releaseAbandoned(versionId: string): Promise<boolean> {
  const prisma = await db();
  return prisma.$transaction(async (tx) => {
    const cutoff = new Date(Date.now() - LEASE_EXPIRES_MS);
    if (
      !(await transitionVersion(versionId, ["validating"], "pending", {}, { tx, where: { updatedAt: { lt: cutoff } } }))
    )
      return false;
    await tx.validationRun.updateMany({
      where: { versionId, status: "running" },
      data: {
        status: "error",
        error: `abandoned: its worker stopped renewing its lease for ${LEASE_EXPIRES_MS / 1000} s`,
        finishedAt: new Date(),
      },
    });
    return true;
  });
}
