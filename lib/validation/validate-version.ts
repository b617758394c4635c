// The validation job: pending -> validating -> validated | failed | quarantined. Each run is a new
// ValidationRun row (history is kept). Infrastructure errors are thrown (the job retries); a model
// that fails validation is recorded and not retried.
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "../audit.ts";
import { getBlobStore } from "../storage/index.ts";
import { extractArchive } from "../archive/extract.ts";
import { ArchiveError } from "../archive/read-archive.ts";
import { validateDirectory, validateTfliteBytes, type StaticResult } from "./static.ts";
import { chooseRuntime, executeModel, notExecuted, type ExecutionOptions, type ExecutionVerdict } from "./execute.ts";
import { getEnv } from "../env.ts";
import type { Principal } from "../auth/principal.ts";
import type { Prisma } from "../db/generated/client.ts";

const MAX_TFLITE_BYTES = 2 * 1024 ** 3;

export async function validateVersion(input: { versionId: string; actor?: Principal | null; execution?: Partial<ExecutionOptions> }) {
  const prisma = await db();
  const version = await prisma.version.findUnique({ where: { id: input.versionId }, include: { module: true } });
  if (!version) throw new AppError("not_found", `no version ${input.versionId}`);
  if (version.status === "approved" || version.status === "rejected") {
    throw new AppError("conflict", `${version.module.handle} version ${version.number} is ${version.status}; it is not validated again`);
  }
  const run = await prisma.validationRun.create({ data: { versionId: version.id, status: "running", triggeredById: input.actor?.kind === "user" && input.actor.via !== "cli" ? input.actor.userId : null } });
  await prisma.version.update({ where: { id: version.id }, data: { status: "validating" } });
  try {
    return await runValidation(version, run.id, input);
  } catch (err) {
    // An infrastructure failure (store, sandbox start-up, database): close this run as `error`, put the
    // version back to `pending`, and let the job retry. A model that fails never gets here.
    const message = err instanceof AppError ? err.message : `internal error: ${(err as Error).message}`;
    await prisma.$transaction([
      prisma.validationRun.update({ where: { id: run.id }, data: { status: "error", error: message.slice(0, 2000), finishedAt: new Date() } }),
      prisma.version.update({ where: { id: version.id }, data: { status: "pending" } }),
    ]).catch(() => {});
    throw err;
  }
}

type VersionRow = { id: string; number: number; format: string; digest: string; size: bigint; module: { handle: string } };

async function runValidation(version: VersionRow, runId: string, input: { actor?: Principal | null; execution?: Partial<ExecutionOptions> }) {
  const prisma = await db();
  const run = { id: runId };
  const store = getBlobStore();
  const env = getEnv();
  let result: StaticResult;
  let verdict: ExecutionVerdict | null = null;
  if (version.format === "tflite") {
    if (version.size > BigInt(MAX_TFLITE_BYTES)) throw new AppError("payload_too_large", "TFLite file above the validation size limit");
    const chunks: Buffer[] = [];
    for await (const c of await store.get(version.digest)) chunks.push(c as Buffer);
    result = validateTfliteBytes(Buffer.concat(chunks));
  } else {
    try {
      const extracted = await extractArchive(await store.get(version.digest));
      try {
        result = validateDirectory(extracted.dir);
        // Only a model that passed every static check is run; a quarantined one is never loaded.
        if (result.status === "passed") verdict = await executeModel(extracted.dir, result.format, { ...env.validation, ...input.execution });
      } finally {
        await extracted.cleanup();
      }
    } catch (err) {
      if (!(err instanceof ArchiveError)) throw err;
      result = { status: "failed", format: "unknown", level: "static", signatures: null, findings: [], parameterCount: null, error: err.message };
    }
  }
  if (!verdict && result.status === "passed") {
    // TFLite is checked from its bytes, never extracted: there is nothing to run it with yet.
    const choice = chooseRuntime(result.format, env.validation.backend);
    verdict = notExecuted("none" in choice ? choice.none : `no ${result.format} runtime on this machine`);
  }
  const findings = [...result.findings, ...(verdict?.findings ?? [])];
  const outcome = verdict && result.status === "passed" ? verdict.status : result.status;
  const error = result.status === "passed" ? verdict?.error : result.error;
  const level = verdict?.level ?? "static";
  const status = outcome === "passed" ? "validated" : outcome;
  const bench = verdict?.result;
  await prisma.$transaction([
    prisma.validationRun.update({
      where: { id: run.id },
      data: {
        status: outcome,
        level,
        format: result.format === "unknown" ? "unknown" : result.format,
        runtime: verdict?.runtime ?? "static",
        backend: verdict?.backend ?? null,
        signatures: (result.signatures ?? undefined) as Prisma.InputJsonValue | undefined,
        execution: (verdict?.execution ?? undefined) as Prisma.InputJsonValue | undefined,
        findings: findings as unknown as Prisma.InputJsonValue,
        error: error ?? null,
        isolation: (verdict?.isolation ?? { note: "static checks only: the model was parsed and checksummed, not executed" }) as Prisma.InputJsonValue,
        finishedAt: new Date(),
      },
    }),
    ...(bench && outcome === "passed"
      ? bench.benchmarks.map((b) =>
          prisma.benchmark.create({
            data: {
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
            },
          }),
        )
      : []),
    prisma.version.update({ where: { id: version.id }, data: { status } }),
  ]);
  await recordAudit({
    actor: input.actor ?? null,
    action: "version.validate",
    outcome: outcome === "passed" ? "ok" : "denied",
    targetType: "version",
    target: `${version.module.handle}/${version.number}`,
    details: { runId: run.id, status, level, runtime: verdict?.runtime ?? "static", error, findings: findings.length },
  });
  return { runId: run.id, status, level, result, verdict };
}
