// The admin review queue: versions awaiting a decision, each with the evidence an admin needs
// (source, validation, findings, signatures, benchmarks) and a diff against the model's previous
// approved version. The /admin page and GET /api/v1/review call the same functions.
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import type { Principal } from "../auth/principal.ts";
import { approveVersion, rejectVersion } from "./approval.ts";
import { AWAITING, type AwaitingStatus } from "./version-status.ts";
import { readFindings, type StoredFinding } from "../validation/evidence.ts";
import { formatBytes, opsOf, signatureLine, signaturesOf, type OpsView } from "./signatures.ts";

export { AWAITING, type AwaitingStatus } from "./version-status.ts";

type BenchRow = {
  batch: number;
  paramCount: bigint | null;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  loadMs: number;
  firstInferenceMs: number;
  throughputPerSec: number;
  peakRssBytes: bigint | null;
  samplesMs: number[];
};

export type EvidenceSnapshot = {
  number: number;
  size: number;
  signatures: string[];
  paramCount: number | null;
  p50Ms: number | null;
};

export type DiffRow = {
  field: "size" | "signatures" | "parameters" | "latency p50 (batch 1)";
  before: string;
  after: string;
  change: "same" | "changed" | "new";
};

export type ReviewItem = {
  id: string;
  handle: string;
  version: number;
  format: string;
  status: AwaitingStatus;
  digest: string;
  size: number;
  createdAt: Date;
  source:
    | { kind: "upstream"; url: string | null; fetchedAt: Date | null; drift: { upstreamDigest: string | null } | null }
    | { kind: "upload"; uploadedBy: string | null };
  validation: {
    status: string;
    level: string | null;
    runtime: string | null;
    backend: string | null;
    error: string | null;
    findings: StoredFinding[];
    signatures: string[];
    /** SavedModels: which ops the model uses and whether they run in TF.js. */
    tfjs: OpsView | null;
    finishedAt: Date | null;
  } | null;
  benchmarks: Array<{
    batch: number;
    loadMs: number;
    firstInferenceMs: number;
    p50Ms: number;
    p95Ms: number;
    p99Ms: number;
    throughputPerSec: number;
    peakRssBytes: number | null;
    runs: number;
  }>;
  paramCount: number | null;
  previousApproved: EvidenceSnapshot | null;
  diff: DiffRow[];
};

const num = (v: bigint | number | null | undefined) => (v === null || v === undefined ? null : Number(v));

/** Compares a candidate with the previous approved version of the same model (pure). */
export function diffEvidence(prev: EvidenceSnapshot | null, cur: EvidenceSnapshot): DiffRow[] {
  const pct = (a: number, b: number) => (a === 0 ? "" : ` (${b >= a ? "+" : ""}${(((b - a) / a) * 100).toFixed(1)} %)`);
  const rows: DiffRow[] = [];
  if (!prev) {
    rows.push({ field: "size", before: "—", after: formatBytes(cur.size), change: "new" });
    rows.push({ field: "signatures", before: "—", after: cur.signatures.join("\n") || "none recorded", change: "new" });
    rows.push({
      field: "parameters",
      before: "—",
      after: cur.paramCount === null ? "unknown" : cur.paramCount.toLocaleString("en-US"),
      change: "new",
    });
    rows.push({
      field: "latency p50 (batch 1)",
      before: "—",
      after: cur.p50Ms === null ? "not run" : `${cur.p50Ms.toFixed(2)} ms`,
      change: "new",
    });
    return rows;
  }
  rows.push({
    field: "size",
    before: formatBytes(prev.size),
    after: formatBytes(cur.size) + (prev.size !== cur.size ? pct(prev.size, cur.size) : ""),
    change: prev.size === cur.size ? "same" : "changed",
  });
  const ps = [...prev.signatures].sort().join("\n");
  const cs = [...cur.signatures].sort().join("\n");
  rows.push({
    field: "signatures",
    before: ps || "none recorded",
    after: cs || "none recorded",
    change: ps === cs ? "same" : "changed",
  });
  rows.push({
    field: "parameters",
    before: prev.paramCount === null ? "unknown" : prev.paramCount.toLocaleString("en-US"),
    after:
      cur.paramCount === null
        ? "unknown"
        : cur.paramCount.toLocaleString("en-US") +
          (prev.paramCount !== null && prev.paramCount !== cur.paramCount ? pct(prev.paramCount, cur.paramCount) : ""),
    change: prev.paramCount === cur.paramCount ? "same" : "changed",
  });
  const lat = (v: number | null) => (v === null ? "not run" : `${v.toFixed(2)} ms`);
  // Latency is noisy: within 10 % counts as the same.
  const latSame =
    prev.p50Ms === cur.p50Ms ||
    (prev.p50Ms !== null && cur.p50Ms !== null && Math.abs(cur.p50Ms - prev.p50Ms) <= 0.1 * prev.p50Ms);
  rows.push({
    field: "latency p50 (batch 1)",
    before: lat(prev.p50Ms),
    after: lat(cur.p50Ms) + (prev.p50Ms !== null && cur.p50Ms !== null && !latSame ? pct(prev.p50Ms, cur.p50Ms) : ""),
    change: latSame ? "same" : "changed",
  });
  return rows;
}

const versionInclude = {
  module: true,
  uploadedBy: { select: { email: true } },
  validationRuns: {
    orderBy: { startedAt: "desc" as const },
    take: 1,
    include: { benchmarks: { orderBy: { batch: "asc" as const } } },
  },
};

function snapshot(v: {
  number: number;
  size: bigint;
  validationRuns: Array<{ signatures: unknown; execution: unknown; benchmarks: BenchRow[] }>;
}): EvidenceSnapshot {
  const run = v.validationRuns[0];
  const b1 = run?.benchmarks.find((b) => b.batch === 1) ?? run?.benchmarks[0];
  return {
    number: v.number,
    size: Number(v.size),
    signatures: signaturesOf(run).map(signatureLine),
    paramCount: num(b1?.paramCount),
    p50Ms: b1?.p50Ms ?? null,
  };
}

export type ReviewQuery = { statuses?: AwaitingStatus[]; handle?: string; limit?: number };

/** Versions awaiting a decision, decidable ones first (validated, then quarantined), oldest first within a status. */
export async function listReviewQueue(q: ReviewQuery = {}): Promise<ReviewItem[]> {
  const prisma = await db();
  const statuses = q.statuses?.length ? q.statuses : [...AWAITING];
  const rows = await prisma.version.findMany({
    where: {
      status: { in: statuses },
      ...(q.handle ? { module: { handle: { contains: q.handle.toLowerCase() } } } : {}),
    },
    include: versionInclude,
    orderBy: { createdAt: "asc" },
    take: Math.min(q.limit ?? 200, 500),
  });
  const order = new Map<string, number>(AWAITING.map((s, i) => [s, i]));
  rows.sort((a, b) => order.get(a.status)! - order.get(b.status)! || a.createdAt.getTime() - b.createdAt.getTime());
  // The previous approved version of each model, for the diff (one query for the whole page).
  const moduleIds = [...new Set(rows.map((r) => r.moduleId))];
  const approved = moduleIds.length
    ? await prisma.version.findMany({
        where: { moduleId: { in: moduleIds }, status: "approved" },
        include: versionInclude,
        orderBy: { number: "desc" },
      })
    : [];
  return rows.map((v) => {
    const prev = approved.find((a) => a.moduleId === v.moduleId && a.number < v.number) ?? null;
    const run = v.validationRuns[0];
    const cur = snapshot(v);
    return {
      id: v.id,
      handle: v.module.handle,
      version: v.number,
      format: v.format,
      status: v.status as AwaitingStatus,
      digest: v.digest,
      size: Number(v.size),
      createdAt: v.createdAt,
      source:
        v.sourceUrl || v.module.source === "upstream"
          ? {
              kind: "upstream" as const,
              url: v.sourceUrl,
              fetchedAt: v.fetchedAt,
              drift: v.upstreamDrift ? { upstreamDigest: v.upstreamDigest } : null,
            }
          : { kind: "upload" as const, uploadedBy: v.uploadedBy?.email ?? null },
      validation: run
        ? {
            status: run.status,
            level: run.level,
            runtime: run.runtime,
            backend: run.backend,
            error: run.error,
            findings: readFindings(run.findings),
            signatures: cur.signatures,
            tfjs: opsOf(run),
            finishedAt: run.finishedAt,
          }
        : null,
      benchmarks: (run?.benchmarks ?? []).map((b) => ({
        batch: b.batch,
        loadMs: b.loadMs,
        firstInferenceMs: b.firstInferenceMs,
        p50Ms: b.p50Ms,
        p95Ms: b.p95Ms,
        p99Ms: b.p99Ms,
        throughputPerSec: b.throughputPerSec,
        peakRssBytes: num(b.peakRssBytes),
        runs: b.samplesMs.length,
      })),
      paramCount: cur.paramCount,
      previousApproved: prev ? snapshot(prev) : null,
      diff: diffEvidence(prev ? snapshot(prev) : null, cur),
    };
  });
}

export type DecisionTarget = { handle: string; version: number };
export type DecisionResult = DecisionTarget & {
  ok: boolean;
  status?: string;
  error?: { code: string; message: string };
};

/**
 * Approves or rejects several versions; each is decided on its own (one refusal does not stop the
 * others), and each decision is audited once by approveVersion/rejectVersion.
 */
export async function decideVersions(input: {
  decision: "approve" | "reject";
  targets: DecisionTarget[];
  note?: string;
  reason?: string;
  overrideReason?: string;
  actor: Principal;
  ip?: string | null;
}): Promise<DecisionResult[]> {
  if (input.targets.length === 0) throw new AppError("unprocessable_entity", "select at least one version");
  if (input.targets.length > 200) throw new AppError("unprocessable_entity", "at most 200 versions per decision");
  if (input.decision === "reject" && !input.reason?.trim())
    throw new AppError("unprocessable_entity", "a rejection needs a reason");
  const out: DecisionResult[] = [];
  for (const t of input.targets) {
    try {
      const r =
        input.decision === "approve"
          ? await approveVersion({
              ...t,
              note: input.note,
              overrideReason: input.overrideReason,
              actor: input.actor,
              ip: input.ip,
            })
          : await rejectVersion({ ...t, reason: input.reason!, actor: input.actor, ip: input.ip });
      out.push({ ...t, ok: true, status: r.status });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      out.push({ ...t, ok: false, error: { code: err.code, message: err.message } });
    }
  }
  return out;
}

/** How many versions wait in each status (the queue's filter tabs). */
export async function countReviewQueue(): Promise<Record<AwaitingStatus, number>> {
  const prisma = await db();
  const rows = await prisma.version.groupBy({
    by: ["status"],
    where: { status: { in: [...AWAITING] } },
    _count: { _all: true },
  });
  const out = Object.fromEntries(AWAITING.map((s) => [s, 0])) as Record<AwaitingStatus, number>;
  for (const r of rows) out[r.status as AwaitingStatus] = r._count._all;
  return out;
}
