// The audit log: append-only (the database refuses UPDATE/DELETE, see prisma/migrations). Every
// decision, credential change and denied attempt is recorded through `recordAudit`.
import type { Prisma } from "../db/generated/client.ts";
import { db } from "../db/client.ts";
import type { Principal } from "../auth/principal.ts";

export type AuditInput = {
  actor: Principal | null;
  action: string;
  outcome?: "ok" | "denied" | "error";
  targetType?: string;
  target?: string;
  ip?: string | null;
  details?: Record<string, unknown>;
};

type AuditWriter = Pick<Prisma.TransactionClient, "auditEvent">;

/** The row an audit input becomes. */
function auditRow(input: AuditInput & { at?: Date }) {
  const actor = input.actor?.kind === "user" ? input.actor : null;
  return {
    ...(input.at ? { at: input.at } : {}),
    actorId: actor?.userId ?? null,
    actorEmail: actor?.email ?? null,
    actorIp: input.ip ?? null,
    action: input.action,
    outcome: input.outcome ?? "ok",
    targetType: input.targetType ?? null,
    target: input.target ?? null,
    // Hubkeep itself (the CLI) has no user row: it is named in the details, never as an actor id.
    details: (input.actor?.kind === "system"
      ? { system: input.actor.name, ...input.details }
      : (input.details ?? {})) as Prisma.InputJsonValue,
  };
}

/** Appends one audit event; pass `tx` to make it part of a transaction. */
export async function recordAudit(input: AuditInput, tx?: AuditWriter): Promise<void> {
  const client: AuditWriter = tx ?? (await db());
  await client.auditEvent.create({ data: auditRow(input) });
}

/** Appends many events in one statement (batched writers such as the download log). */
export async function recordAuditBatch(inputs: Array<AuditInput & { at?: Date }>): Promise<void> {
  if (inputs.length === 0) return;
  const prisma = await db();
  await prisma.auditEvent.createMany({ data: inputs.map(auditRow) });
}

export type AuditQuery = {
  actor?: string;
  action?: string;
  outcome?: "ok" | "denied" | "error";
  target?: string;
  since?: Date;
  until?: Date;
  limit?: number;
  before?: bigint;
};

/** Audit events, newest first. `actor` matches the actor's id or email. */
export async function listAuditEvents(q: AuditQuery) {
  const prisma = await db();
  const rows = await prisma.auditEvent.findMany({
    where: {
      ...(q.actor ? { OR: [{ actorId: q.actor }, { actorEmail: q.actor.toLowerCase() }] } : {}),
      ...(q.action
        ? q.action.endsWith("*")
          ? { action: { startsWith: q.action.slice(0, -1) } }
          : { action: q.action }
        : {}),
      ...(q.outcome ? { outcome: q.outcome } : {}),
      ...(q.target ? { target: q.target } : {}),
      ...(q.since || q.until
        ? { at: { ...(q.since ? { gte: q.since } : {}), ...(q.until ? { lte: q.until } : {}) } }
        : {}),
      ...(q.before ? { id: { lt: q.before } } : {}),
    },
    orderBy: { id: "desc" },
    take: Math.min(q.limit ?? 100, 500),
  });
  return rows.map((r) => ({ ...r, id: r.id.toString() }));
}

/** The distinct actions recorded so far (the audit viewer's filter list). */
export async function listAuditActions(): Promise<string[]> {
  const prisma = await db();
  const rows = await prisma.auditEvent.findMany({
    distinct: ["action"],
    select: { action: true },
    orderBy: { action: "asc" },
  });
  return rows.map((r) => r.action);
}
