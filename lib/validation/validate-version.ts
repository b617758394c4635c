// The validation job: pending -> validating -> validated | failed | quarantined. Each run is a new
// ValidationRun row (history is kept). Infrastructure errors are thrown (the job retries); a model
// that fails validation is recorded and not retried.
import { z } from "zod";
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "../audit.ts";
import { getBlobStore } from "../storage/index.ts";
import { extractArchive } from "../archive/extract.ts";
import { ArchiveError } from "../archive/read-archive.ts";
import { defineJob } from "../jobs/define-job.ts";
import { validateDirectory, validateTfliteBytes, type StaticResult } from "./static.ts";
import type { Principal } from "../auth/principal.ts";
import type { Prisma } from "../db/generated/client.ts";

const MAX_TFLITE_BYTES = 2 * 1024 ** 3;

export async function validateVersion(input: { versionId: string; actor?: Principal | null }) {
  const prisma = await db();
  const version = await prisma.version.findUnique({ where: { id: input.versionId }, include: { module: true } });
  if (!version) throw new AppError("not_found", `no version ${input.versionId}`);
  if (version.status === "approved" || version.status === "rejected") {
    throw new AppError("conflict", `${version.module.handle} version ${version.number} is ${version.status}; it is not validated again`);
  }
  const run = await prisma.validationRun.create({ data: { versionId: version.id, status: "running", triggeredById: input.actor?.kind === "user" && input.actor.via !== "cli" ? input.actor.userId : null } });
  await prisma.version.update({ where: { id: version.id }, data: { status: "validating" } });
  const store = getBlobStore();
  let result: StaticResult;
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
      } finally {
        await extracted.cleanup();
      }
    } catch (err) {
      if (!(err instanceof ArchiveError)) throw err;
      result = { status: "failed", format: "unknown", level: "static", signatures: null, findings: [], parameterCount: null, error: err.message };
    }
  }
  const status = result.status === "passed" ? "validated" : result.status;
  await prisma.$transaction([
    prisma.validationRun.update({
      where: { id: run.id },
      data: {
        status: result.status,
        level: result.level,
        format: result.format === "unknown" ? "unknown" : result.format,
        runtime: "static",
        signatures: (result.signatures ?? undefined) as Prisma.InputJsonValue | undefined,
        findings: result.findings as unknown as Prisma.InputJsonValue,
        error: result.error ?? null,
        isolation: { note: "static checks only: the model was parsed and checksummed, not executed" },
        finishedAt: new Date(),
      },
    }),
    prisma.version.update({ where: { id: version.id }, data: { status } }),
  ]);
  await recordAudit({
    actor: input.actor ?? null,
    action: "version.validate",
    outcome: result.status === "passed" ? "ok" : "denied",
    targetType: "version",
    target: `${version.module.handle}/${version.number}`,
    details: { runId: run.id, status, level: result.level, error: result.error, findings: result.findings.length },
  });
  return { runId: run.id, status, result };
}

export const validateVersionJob = defineJob({
  name: "validate-version",
  schema: z.object({ versionId: z.string().min(1) }),
  retryLimit: 3,
  expireInSeconds: 3600,
  concurrency: 1,
  async handle({ versionId }) {
    const r = await validateVersion({ versionId });
    return { status: r.status };
  },
});
