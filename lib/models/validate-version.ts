// The validation job: pending -> validating -> validated | failed | quarantined. Each run is a new
// ValidationRun row (history is kept). Infrastructure errors are thrown (the job retries); a model
// that fails validation is recorded and not retried. Every status change is a compare-and-set
// (transitionVersion): of two workers given one version, one validates and the other does nothing.
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "./audit.ts";
import { getBlobStore } from "../storage/index.ts";
import { extractArchive } from "../archive/extract.ts";
import { ArchiveError } from "../archive/read-archive.ts";
import { validateDirectory, validateTfliteBytes, type StaticResult } from "../validation/static.ts";
import { STATIC_ONLY_ISOLATION } from "../validation/evidence.ts";
import {
  chooseRuntime,
  executeModel,
  notExecuted,
  type ExecutionOptions,
  type ExecutionVerdict,
  executeTfliteBytes,
} from "../validation/execute.ts";
import { getEnv } from "../env.ts";
import { stoppedByWorker } from "../jobs/define-job.ts";
import { actorUserId, type Principal } from "../auth/principal.ts";
import type { VersionStatus } from "../db/generated/client.ts";
import { transitionVersion } from "./versions.ts";
import { isDecided, VALIDATABLE } from "./version-status.ts";
import { recordValidationRun } from "../metrics.ts";
import { LEASE_RENEW_MS, leaseExpired, releaseAbandoned, renewLease } from "./validation-lease.ts";

const MAX_TFLITE_BYTES = 2 * 1024 ** 3;

/**
 * The refusal a caller gets when another worker has (or had) the version: nothing was done. The job
 * treats it as done; `details.status` is the status the version is in now.
 */
function lostRace(v: { number: number; module: { handle: string } }, status: VersionStatus) {
  const why =
    status === "validating"
      ? "is being validated by another worker"
      : `is ${status}; it was not waiting to be validated`;
  return new AppError("conflict", `${v.module.handle} version ${v.number} ${why}`, { status, lostRace: true });
}

export async function validateVersion(input: {
  versionId: string;
  actor?: Principal | null;
  execution?: Partial<ExecutionOptions>;
  from?: readonly VersionStatus[];
  signal?: AbortSignal;
}) {
  const prisma = await db();
  const load = async () => {
    const v = await prisma.version.findUnique({ where: { id: input.versionId }, include: { module: true } });
    if (!v) throw new AppError("not_found", `no version ${input.versionId}`);
    if (isDecided(v.status)) {
      throw new AppError(
        "conflict",
        `${v.module.handle} version ${v.number} is ${v.status}; it is not validated again`,
        { status: v.status },
      );
    }
    return v;
  };
  let version = await load();
  // A `validating` version whose worker died is taken back to `pending` first (see validation-lease.ts).
  if (leaseExpired(version) && (await releaseAbandoned(version.id))) version = await load();
  const from = input.from ?? VALIDATABLE;
  if (!from.includes(version.status)) throw lostRace(version, version.status);
  // Claiming the version and opening its run are one transaction: exactly one concurrent caller wins.
  const triggeredById = actorUserId(input.actor);
  const run = await prisma.$transaction(async (tx) =>
    (await transitionVersion(version.id, from, "validating", { updatedAt: new Date() }, { tx }))
      ? tx.validationRun.create({ data: { versionId: version.id, status: "running", triggeredById } })
      : null,
  );
  if (!run) throw lostRace(version, (await load()).status);
  const lease = setInterval(() => void renewLease(version.id, run.id).catch(() => {}), LEASE_RENEW_MS);
  lease.unref();
  try {
    return await runValidation(version, run.id, input);
  } catch (err) {
    // An infrastructure failure (store, sandbox start-up, database): close this run as `error`, put the
    // version back to `pending`, and let the job retry. A model that fails never gets here. A run
    // already closed by a takeover (validation-lease.ts) changes nothing.
    const message = err instanceof AppError ? err.message : `internal error: ${(err as Error).message}`;
    await prisma
      .$transaction(async (tx) => {
        const closed = await tx.validationRun.updateMany({
          where: { id: run.id, status: "running" },
          data: { status: "error", error: message.slice(0, 2000), finishedAt: new Date() },
        });
        if (closed.count === 1) await transitionVersion(version.id, ["validating"], "pending", {}, { tx });
        if (closed.count === 1) recordValidationRun(version.format, "static", "error");
      })
      .catch(() => {});
    throw err;
  } finally {
    clearInterval(lease);
  }
}

type VersionRow = {
  id: string;
  number: number;
  format: string;
  digest: string;
  size: bigint;
  module: { handle: string };
};

async function runValidation(
  version: VersionRow,
  runId: string,
  input: { actor?: Principal | null; execution?: Partial<ExecutionOptions>; signal?: AbortSignal },
) {
  // Stopped by the worker shutting down (not by the job's budget): not the model's fault, so this is
  // an infrastructure error (the run closes as `error`, the version goes back to `pending`).
  const workerStopped = () => stoppedByWorker(input.signal);
  const prisma = await db();
  const run = { id: runId };
  const store = getBlobStore();
  const env = getEnv();
  let result: StaticResult;
  let verdict: ExecutionVerdict | null = null;
  if (version.format === "tflite") {
    if (version.size > BigInt(MAX_TFLITE_BYTES))
      throw new AppError("payload_too_large", "TFLite file above the validation size limit");
    const chunks: Buffer[] = [];
    for await (const c of await store.get(version.digest)) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    result = validateTfliteBytes(bytes);
    // Statically sound: run it in the sandbox (tfjs-tflite, LiteRT.js as the fallback).
    if (result.status === "passed")
      verdict = await executeTfliteBytes(bytes, { ...env.validation, ...input.execution, signal: input.signal });
    if (workerStopped()) throw new Error("the worker stopped during the validation");
  } else {
    try {
      const extracted = await extractArchive(await store.get(version.digest), { signal: input.signal });
      try {
        result = validateDirectory(extracted.dir);
        // Only a model that passed every static check is run; a quarantined one is never loaded.
        if (result.status === "passed")
          verdict = await executeModel(extracted.dir, result.format, {
            ...env.validation,
            ...input.execution,
            signal: input.signal,
          });
        if (workerStopped()) throw new Error("the worker stopped during the validation");
      } finally {
        await extracted.cleanup();
      }
    } catch (err) {
      if (!(err instanceof ArchiveError) || workerStopped()) throw err;
      result = {
        status: "failed",
        format: "unknown",
        level: "static",
        signatures: null,
        findings: [],
        parameterCount: null,
        error: err.message,
      };
    }
  }
  if (!verdict && result.status === "passed") {
    // A format no runtime here runs: the verdict says why.
    const choice = chooseRuntime(result.format, env.validation.backend);
    verdict = notExecuted("none" in choice ? choice.none : `no ${result.format} runtime on this machine`);
  }
  const findings = [...result.findings, ...(verdict?.findings ?? [])];
  const outcome = verdict && result.status === "passed" ? verdict.status : result.status;
  const error = result.status === "passed" ? verdict?.error : result.error;
  const level = verdict?.level ?? "static";
  const status = outcome === "passed" ? "validated" : outcome;
  const bench = verdict?.result;
  // The run is written only while it is still this worker's (`running`: a takeover closes it), and
  // the verdict moves the version only while it is still `validating` (an admin may reject it meanwhile).
  const written = await prisma.$transaction(async (tx) => {
    const closed = await tx.validationRun.updateMany({
      where: { id: run.id, status: "running" },
      data: {
        status: outcome,
        level,
        format: result.format === "unknown" ? "unknown" : result.format,
        runtime: verdict?.runtime ?? "static",
        backend: verdict?.backend ?? null,
        signatures: result.signatures ?? undefined,
        execution: verdict?.execution ?? undefined,
        findings: findings,
        error: error ?? null,
        isolation: verdict?.isolation ?? STATIC_ONLY_ISOLATION,
        finishedAt: new Date(),
      },
    });
    if (closed.count !== 1) return null;
    if (bench && outcome === "passed") {
      await tx.benchmark.createMany({
        data: bench.benchmarks.map((b) => ({
          versionId: version.id,
          validationRunId: run.id,
          runtime: bench.runtime,
          backend: bench.backend,
          nodeVersion: bench.nodeVersion,
          cpuModel: bench.cpuModel,
          batch: b.batch,
          archiveSize: version.size,
          paramCount: bench.paramCount ?? result.parameterCount ?? null,
          loadMs: bench.loadMs,
          firstInferenceMs: b.firstInferenceMs,
          p50Ms: b.p50Ms,
          p95Ms: b.p95Ms,
          p99Ms: b.p99Ms,
          throughputPerSec: b.throughputPerSec,
          peakRssBytes: BigInt(bench.peakRssBytes),
          samplesMs: b.samplesMs,
        })),
      });
    }
    const applied = await transitionVersion(version.id, ["validating"], status, {}, { tx });
    return {
      applied,
      versionStatus: applied
        ? status
        : (await tx.version.findUnique({ where: { id: version.id }, select: { status: true } }))?.status,
    };
  });
  // Taken over by another worker (this one was presumed dead): it validates again; this one says nothing.
  if (!written) throw lostRace(version, "validating");
  recordValidationRun(version.format, level, status);
  await recordAudit({
    actor: input.actor ?? null,
    action: "version.validate",
    outcome: outcome === "passed" ? "ok" : "denied",
    targetType: "version",
    target: `${version.module.handle}/${version.number}`,
    details: {
      runId: run.id,
      status,
      level,
      runtime: verdict?.runtime ?? "static",
      error,
      findings: findings.length,
      ...(written.applied ? {} : { versionStatus: written.versionStatus }),
    },
  });
  return { runId: run.id, status, level, result, verdict };
}
