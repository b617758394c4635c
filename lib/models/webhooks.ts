// Signed webhooks: admins register receiver URLs for event types; each event becomes one
// WebhookDelivery row per subscribed enabled webhook, written in the transaction of the change it
// reports (so an event exists exactly when its change committed). The row holds the payload and the
// status; the pg-boss job that sends it carries only its id, and is inserted in that same
// transaction, so a crash can lose neither. Each failed attempt schedules the next one as a new job
// (startAfter, the exact schedule of lib/webhooks/retry.ts) in the transaction that records it. A
// sweep job re-sends any pending delivery more than a minute overdue, for whatever slipped through
// (a process without a job queue, a job pg-boss gave up on).
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { fromPrisma } from "pg-boss";
import type { Prisma, Webhook, WebhookDeliveryStatus } from "../db/generated/client.ts";
import { db, getDatabase } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { getEnv } from "../env.ts";
import { getLogger, stripQuery } from "../log.ts";
import { recordAudit } from "./audit.ts";
import { actorUserId, type Principal } from "../auth/principal.ts";
import { defineJob } from "../jobs/define-job.ts";
import { defineSchedule } from "../jobs/schedule.ts";
import { ensureQueue, getQueue, type Queue } from "../jobs/queue.ts";
import { recordWebhookDelivery } from "../metrics.ts";
import { serializePayload, TEST_EVENT_TYPE, type WebhookEventType, type WebhookPayload } from "../webhooks/events.ts";
import { createWebhookSchema } from "../webhooks/schemas.ts";
import { generateWebhookSecret, webhookHeaders } from "../webhooks/signing.ts";
import { checkResolvedHost, parseTargetUrl, type Resolver } from "../webhooks/target-url.ts";
import { sendWebhook, type SendResult } from "../webhooks/sender.ts";
import { nextAttemptAt } from "../webhooks/retry.ts";

type Tx = Prisma.TransactionClient;

/** An attempt holds its delivery this long (the send's 10 s timeout, with room to record it). */
const ATTEMPT_LEASE_MS = 60_000;
/** A job may start this much before its delivery's due time (clock differences) and still send. */
const DUE_TOLERANCE_MS = 2_000;
/** A pending delivery this long past due has lost its job: the sweep sends it again. */
export const SWEEP_OVERDUE_MS = 60_000;
/** How often the sweep runs (seconds) while any webhook is enabled or any delivery pending. */
const SWEEP_EVERY_SECONDS = 60;

// ---------------------------------------------------------------------------------------------
// Jobs

export const webhookDeliveryJob = defineJob({
  name: "webhook-deliver",
  schema: z.object({ deliveryId: z.string().min(1) }),
  // The next attempt is a new job at its exact time; pg-boss's own retries only cover a worker that
  // died or a database error mid-attempt (the delivery's lease makes a second run harmless).
  retryLimit: 10,
  retryDelaySeconds: 5,
  expireInSeconds: 120,
  // Deliveries wait on receivers, not the CPU: several at once per worker.
  concurrency: 8,
  async handle({ deliveryId }, ctx) {
    return attemptDelivery(deliveryId, { signal: ctx.signal });
  },
});

export const webhookSweepJob = defineSchedule({
  name: "webhook-sweep",
  // Every worker starts one, creating a webhook or a delivery starts one, and each sweep queues the
  // next while there is anything to watch.
  everySeconds: () => SWEEP_EVERY_SECONDS,
  firstAfterSeconds: () => 1,
  async continueIf() {
    const prisma = await db();
    return (
      (await prisma.webhook.count({ where: { enabled: true } })) > 0 ||
      (await prisma.webhookDelivery.count({ where: { status: "pending" } })) > 0
    );
  },
  // Once a minute: a few seconds late is nothing.
  pollSeconds: 10,
  retryLimit: 3,
  expireInSeconds: 300,
  async run() {
    return { requeued: await sweepWebhookDeliveries() };
  },
});

// pg-boss queues known (created and cached) on each boss, so a send inside a transaction never has
// to look one up: in embedded mode that lookup would wait for the very transaction it runs in.
const readyBosses = new WeakSet<object>();

/** The process's queue with both webhook queues created, or null without a queue. Call outside transactions. */
async function readyQueue(): Promise<Queue | null> {
  let queue: Queue;
  try {
    queue = await getQueue();
  } catch {
    return null;
  }
  if (!readyBosses.has(queue.boss)) {
    await ensureQueue(queue.boss, webhookDeliveryJob);
    await ensureQueue(queue.boss, webhookSweepJob);
    readyBosses.add(queue.boss);
  }
  return queue;
}

/** Starts the sweep chain unless a sweep is waiting (the schedule's own queueing). */
function scheduleSweepQuietly(queue: Queue | null): Promise<void> {
  return webhookSweepJob.schedule(undefined, queue);
}

type DueDelivery = { id: string; at: Date | null };

/**
 * Inserts the delivery jobs inside `tx`: they commit with it or not at all. Without a queue in this
 * process nothing is sent now; the sweep (in a worker) sends them once overdue.
 */
async function enqueueDeliveries(tx: Tx, due: DueDelivery[]): Promise<void> {
  if (due.length === 0) return;
  let queue: Queue;
  try {
    queue = await getQueue();
  } catch {
    return;
  }
  const send = (q: Queue, d: DueDelivery, opts: { db?: ReturnType<typeof fromPrisma> }) =>
    q.boss.send(
      webhookDeliveryJob.name,
      { deliveryId: d.id },
      { ...opts, ...(d.at && d.at.getTime() > Date.now() ? { startAfter: d.at } : {}) },
    );
  if (!readyBosses.has(queue.boss)) {
    if ((await getDatabase()).kind === "pglite") {
      // Embedded: PGlite runs one transaction at a time, so creating the queue now would wait for
      // this one. Send once it has ended instead: these statements queue behind it, so they run
      // after its commit (a rolled-back delivery's job finds no row and does nothing).
      void (async () => {
        const ready = await readyQueue();
        for (const d of due) if (ready) await send(ready, d, {});
      })().catch((err: Error) => getLogger().error({ err }, "could not queue webhook deliveries"));
      return;
    }
    await readyQueue(); // PostgreSQL: pg-boss's own connection, safe beside this transaction
  }
  for (const d of due) await send(queue, d, { db: fromPrisma(tx) });
}

// ---------------------------------------------------------------------------------------------
// Events

function newEventId(): string {
  return `evt_${randomBytes(16).toString("hex")}`;
}

/** Writes one pending delivery per webhook and queues them, inside `tx`. */
async function writeDeliveries(
  tx: Tx,
  webhookIds: string[],
  eventId: string,
  payload: WebhookPayload,
): Promise<number> {
  if (webhookIds.length === 0) return 0;
  const now = new Date();
  const rows = await tx.webhookDelivery.createManyAndReturn({
    data: webhookIds.map((webhookId) => ({
      webhookId,
      eventId,
      type: payload.type,
      payload: payload as unknown as Prisma.InputJsonValue,
      nextAttemptAt: now,
    })),
    select: { id: true },
  });
  await enqueueDeliveries(
    tx,
    rows.map((r) => ({ id: r.id, at: null })),
  );
  return rows.length;
}

/**
 * Sends event `type` to every enabled webhook subscribed to it. With `tx` the deliveries (and their
 * jobs) are part of the caller's transaction: call it in the transaction that makes the change, so
 * the event exists exactly when the change committed. Returns the event's id (`webhook-id`).
 */
export async function emitEvent(
  type: WebhookEventType,
  data: Record<string, unknown>,
  tx?: Tx,
): Promise<{ eventId: string; deliveries: number }> {
  return emit(type, async () => data, tx);
}

/** emitEvent with the data read only when some webhook is subscribed (inside `tx` when given). */
async function emit(
  type: WebhookEventType,
  data: (tx: Tx) => Promise<Record<string, unknown> | null>,
  tx?: Tx,
): Promise<{ eventId: string; deliveries: number }> {
  const eventId = newEventId();
  const write = async (t: Tx) => {
    const hooks = await t.webhook.findMany({
      where: { enabled: true, events: { hasSome: [type, "*"] } },
      select: { id: true },
    });
    if (hooks.length === 0) return 0;
    const payload = await data(t);
    if (!payload) return 0;
    return writeDeliveries(
      t,
      hooks.map((h) => h.id),
      eventId,
      { type, timestamp: new Date().toISOString(), data: payload },
    );
  };
  if (tx) return { eventId, deliveries: await write(tx) };
  const queue = await readyQueue();
  const deliveries = await (await db()).$transaction(write);
  if (deliveries > 0) await scheduleSweepQuietly(queue);
  return { eventId, deliveries };
}

/** The API URL of a version: absolute, on the public base URL (HUBKEEP_PUBLIC_URL). */
export function versionApiUrl(handle: string, version: number): string {
  return `${getEnv().publicUrl}/api/v1/models/${handle}/versions/${version}`;
}

/** A version event's data: handle, version, status, digest and the version's API URL. */
export function versionEventData(v: { handle: string; version: number; status: string; digest: string }) {
  return {
    handle: v.handle,
    version: v.version,
    status: v.status,
    digest: v.digest,
    url: versionApiUrl(v.handle, v.version),
  };
}

/** Sends a version event about version `versionId` as it is in `tx` (after the change). */
export async function emitVersionEvent(
  type: WebhookEventType,
  versionId: string,
  tx: Tx,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await emit(
    type,
    async (t) => {
      const v = await t.version.findUnique({
        where: { id: versionId },
        select: {
          number: true,
          status: true,
          digest: true,
          rejectionReason: true,
          deletionReason: true,
          module: { select: { handle: true } },
        },
      });
      if (!v) return null;
      // A rejection or deletion says why.
      const reason = v.status === "rejected" ? v.rejectionReason : v.status === "deleted" ? v.deletionReason : null;
      return {
        ...versionEventData({ handle: v.module.handle, version: v.number, status: v.status, digest: v.digest }),
        ...(reason ? { reason } : {}),
        ...extra,
      };
    },
    tx,
  );
}

// ---------------------------------------------------------------------------------------------
// Delivery

/** What one job run did. */
export type AttemptOutcome =
  | { skipped: true; reason: string }
  | {
      attempt: number;
      outcome: "delivered" | "retried" | "failed" | "disabled";
      statusCode: number | null;
      error: string | null;
    };

/**
 * Makes the next attempt of a pending delivery that is due: claims it (a lease on nextAttemptAt, so
 * a second job for the same delivery does nothing), POSTs it signed, and records the attempt and
 * what follows in one transaction: delivered (2xx), the next attempt scheduled, failed (out of
 * attempts), or the webhook disabled (410: its other pending deliveries are cancelled).
 */
export async function attemptDelivery(
  deliveryId: string,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<AttemptOutcome> {
  const prisma = await db();
  await scheduleSweepQuietly(await readyQueue());
  const d = await prisma.webhookDelivery.findUnique({ where: { id: deliveryId }, include: { webhook: true } });
  if (!d) return { skipped: true, reason: "no such delivery (its webhook was deleted)" };
  if (d.status !== "pending") return { skipped: true, reason: `delivery is ${d.status}` };
  if (!d.webhook.enabled) {
    await prisma.webhookDelivery.updateMany({
      where: { id: d.id, status: "pending" },
      data: { status: "cancelled", nextAttemptAt: null },
    });
    return { skipped: true, reason: "webhook is disabled" };
  }
  const now = Date.now();
  // Not due: another job holds it (an attempt in flight) or is scheduled for it.
  if (d.nextAttemptAt && d.nextAttemptAt.getTime() > now + DUE_TOLERANCE_MS)
    return { skipped: true, reason: `not due until ${d.nextAttemptAt.toISOString()}` };
  const claimed = await prisma.webhookDelivery.updateMany({
    where: { id: d.id, status: "pending", attempts: d.attempts, nextAttemptAt: d.nextAttemptAt },
    data: { nextAttemptAt: new Date(now + ATTEMPT_LEASE_MS) },
  });
  if (claimed.count !== 1) return { skipped: true, reason: "another job took this attempt" };

  const attempt = d.attempts + 1;
  const body = serializePayload(d.payload as unknown as WebhookPayload);
  const headers = webhookHeaders({
    id: d.eventId,
    timestamp: Math.floor(Date.now() / 1000),
    body,
    secret: d.webhook.secret,
  });
  let result: SendResult;
  try {
    result = await sendWebhook({ url: d.webhook.url, body, headers, signal: opts.signal, timeoutMs: opts.timeoutMs });
  } catch (err) {
    // Only a stopping worker gets here (sendWebhook reports the receiver's failures in its result):
    // the attempt did not count. Hand it back; the job is retried.
    await prisma.webhookDelivery.updateMany({
      where: { id: d.id, status: "pending", attempts: d.attempts },
      data: { nextAttemptAt: new Date() },
    });
    throw err;
  }
  const recorded = await recordAttempt(d, attempt, result);
  if (!recorded) return { skipped: true, reason: "the delivery changed during the attempt" };
  recordWebhookDelivery(recorded.outcome);
  return { attempt, outcome: recorded.outcome, statusCode: result.statusCode, error: result.error };
}

async function recordAttempt(
  d: { id: string; eventId: string; attempts: number; webhook: Webhook },
  attempt: number,
  result: SendResult,
): Promise<{ outcome: "delivered" | "retried" | "failed" | "disabled" } | null> {
  const code = result.statusCode;
  const ok = code !== null && code >= 200 && code < 300;
  const gone = code === 410;
  const prisma = await db();
  try {
    return await prisma.$transaction(async (tx) => {
      // Exactly one record per attempt number: a second writer (a presumed-dead worker) finds it taken.
      const mine = await tx.webhookDelivery.updateMany({
        where: { id: d.id, attempts: d.attempts },
        data: { attempts: attempt },
      });
      if (mine.count !== 1) return null;
      await tx.webhookAttempt.create({
        data: {
          deliveryId: d.id,
          attempt,
          statusCode: code,
          error: result.error ?? (ok ? null : code === null ? "no answer" : `HTTP ${code}`),
          durationMs: result.durationMs,
          at: result.startedAt,
        },
      });
      const now = await tx.webhookDelivery.findUniqueOrThrow({
        where: { id: d.id },
        select: { status: true, webhook: { select: { enabled: true } } },
      });
      let status: WebhookDeliveryStatus;
      let next: Date | null = null;
      let outcome: "delivered" | "retried" | "failed" | "disabled";
      if (ok) [status, outcome] = ["delivered", "delivered"];
      else if (gone) [status, outcome] = ["failed", "disabled"];
      else if (now.status !== "pending" || !now.webhook.enabled) [status, outcome] = ["cancelled", "failed"];
      else {
        next = nextAttemptAt(attempt, result);
        [status, outcome] = next ? ["pending", "retried"] : ["failed", "failed"];
      }
      await tx.webhookDelivery.update({
        where: { id: d.id },
        data: { status, nextAttemptAt: next, ...(ok ? { deliveredAt: result.endedAt } : {}) },
      });
      if (gone) await disableGoneWebhook(tx, d.webhook, d.eventId);
      if (next) await enqueueDeliveries(tx, [{ id: d.id, at: next }]);
      return { outcome };
    });
  } catch (err) {
    // The webhook (and with it this delivery) was deleted during the attempt.
    const code = (err as { code?: string }).code;
    if (code === "P2003" || code === "P2025") return null;
    throw err;
  }
}

/** A 410 Gone: the receiver says it is gone for good. Disable the webhook and cancel what waits. */
async function disableGoneWebhook(tx: Tx, webhook: Webhook, eventId: string): Promise<void> {
  const reason = `the receiver answered 410 Gone to event ${eventId} at ${new Date().toISOString()}`;
  const disabled = await tx.webhook.updateMany({
    where: { id: webhook.id, enabled: true },
    data: { enabled: false, disabledReason: reason },
  });
  const cancelled = await tx.webhookDelivery.updateMany({
    where: { webhookId: webhook.id, status: "pending" },
    data: { status: "cancelled", nextAttemptAt: null },
  });
  if (disabled.count === 1)
    await recordAudit(
      {
        actor: null,
        action: "webhook.disable",
        targetType: "webhook",
        target: webhook.id,
        details: { url: stripQuery(webhook.url), reason, cancelledDeliveries: cancelled.count },
      },
      tx,
    );
}

/**
 * Re-sends every pending delivery more than `overdueMs` past due: its job was lost (written by a
 * process without a queue, or pg-boss gave up on it). Each is moved to "due now" and given a new
 * job in one transaction, so a sweep running twice sends it once. Returns how many it re-sent.
 */
export async function sweepWebhookDeliveries(opts: { overdueMs?: number; limit?: number } = {}): Promise<number> {
  const queue = await readyQueue();
  if (!queue) return 0;
  const prisma = await db();
  const cutoff = new Date(Date.now() - (opts.overdueMs ?? SWEEP_OVERDUE_MS));
  const overdue = await prisma.webhookDelivery.findMany({
    where: {
      status: "pending",
      OR: [{ nextAttemptAt: { lt: cutoff } }, { nextAttemptAt: null, updatedAt: { lt: cutoff } }],
    },
    select: { id: true, nextAttemptAt: true },
    orderBy: { createdAt: "asc" },
    take: opts.limit ?? 500,
  });
  let requeued = 0;
  for (const d of overdue) {
    await prisma.$transaction(async (tx) => {
      const moved = await tx.webhookDelivery.updateMany({
        where: { id: d.id, status: "pending", nextAttemptAt: d.nextAttemptAt },
        data: { nextAttemptAt: new Date() },
      });
      if (moved.count !== 1) return;
      await enqueueDeliveries(tx, [{ id: d.id, at: null }]);
      requeued++;
    });
  }
  if (requeued > 0) getLogger().warn({ requeued }, `webhook sweep: re-sent ${requeued} overdue deliveries`);
  return requeued;
}

// ---------------------------------------------------------------------------------------------
// Administration

export type WebhookView = {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  disabledReason: string | null;
  createdAt: Date;
};

function toView(w: Webhook): WebhookView {
  return {
    id: w.id,
    url: w.url,
    events: w.events,
    description: w.description,
    enabled: w.enabled,
    disabledReason: w.disabledReason,
    createdAt: w.createdAt,
  };
}

/**
 * Registers a webhook. `url` must be http(s) and must not be (or resolve to) the cloud metadata
 * address; loopback and private receivers are fine. The secret is returned here only.
 */
export async function createWebhook(input: {
  url: unknown;
  events: unknown;
  description?: unknown;
  actor: Principal;
  ip?: string | null;
  /** Test hook: stands in for DNS when checking what the host name resolves to. */
  resolve?: Resolver;
}): Promise<WebhookView & { secret: string }> {
  const parsed = createWebhookSchema.parse({ url: input.url, events: input.events, description: input.description });
  const target = parseTargetUrl(parsed.url);
  if ("reason" in target) throw new AppError("unprocessable_entity", `url: ${target.reason}`);
  const resolved = await checkResolvedHost(target.url, input.resolve);
  if (resolved) throw new AppError("unprocessable_entity", `url: ${resolved}`);
  const secret = generateWebhookSecret();
  const prisma = await db();
  const created = await prisma.$transaction(async (tx) => {
    const w = await tx.webhook.create({
      data: {
        url: target.url.toString(),
        events: parsed.events,
        description: parsed.description || null,
        secret,
        createdById: actorUserId(input.actor),
      },
    });
    await recordAudit(
      {
        actor: input.actor,
        action: "webhook.create",
        ip: input.ip,
        targetType: "webhook",
        target: w.id,
        details: { url: stripQuery(w.url), events: w.events, description: w.description },
      },
      tx,
    );
    return w;
  });
  await scheduleSweepQuietly(await readyQueue());
  return { ...toView(created), secret };
}

/** Every webhook (no secrets), newest first, with how many deliveries wait. */
export async function listWebhooks(): Promise<Array<WebhookView & { pendingDeliveries: number }>> {
  const prisma = await db();
  const [hooks, pending] = await Promise.all([
    prisma.webhook.findMany({ orderBy: [{ createdAt: "desc" }, { id: "desc" }] }),
    prisma.webhookDelivery.groupBy({ by: ["webhookId"], where: { status: "pending" }, _count: { _all: true } }),
  ]);
  const counts = new Map(pending.map((p) => [p.webhookId, p._count._all]));
  return hooks.map((w) => ({ ...toView(w), pendingDeliveries: counts.get(w.id) ?? 0 }));
}

async function findWebhook(id: string): Promise<Webhook> {
  const w = await (await db()).webhook.findUnique({ where: { id } });
  if (!w) throw new AppError("not_found", `no webhook ${id}`);
  return w;
}

/** Removes a webhook with its deliveries (jobs still queued for them find nothing and stop). */
export async function deleteWebhook(input: { id: string; actor: Principal; ip?: string | null }): Promise<void> {
  const w = await findWebhook(input.id);
  const prisma = await db();
  await prisma.$transaction(async (tx) => {
    await tx.webhook.delete({ where: { id: w.id } });
    await recordAudit(
      {
        actor: input.actor,
        action: "webhook.delete",
        ip: input.ip,
        targetType: "webhook",
        target: w.id,
        details: { url: stripQuery(w.url), events: w.events },
      },
      tx,
    );
  });
}

export type DeliveryView = {
  id: string;
  eventId: string;
  type: string;
  status: WebhookDeliveryStatus;
  /** Attempts made so far. */
  attempt: number;
  /** The last attempt's answer, or why it got none. */
  statusCode: number | null;
  error: string | null;
  /** The last attempt's time, or when the event was created if none was made yet. */
  time: Date;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  attempts: Array<{ attempt: number; statusCode: number | null; error: string | null; durationMs: number; at: Date }>;
};

/** A webhook's deliveries, newest first, each with its attempts (newest first). */
export async function listDeliveries(webhookId: string, opts: { limit?: number } = {}): Promise<DeliveryView[]> {
  await findWebhook(webhookId);
  const prisma = await db();
  const rows = await prisma.webhookDelivery.findMany({
    where: { webhookId },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: opts.limit ?? 50,
    include: { attemptsMade: { orderBy: { attempt: "desc" } } },
  });
  return rows.map((r) => {
    const last = r.attemptsMade[0];
    return {
      id: r.id,
      eventId: r.eventId,
      type: r.type,
      status: r.status,
      attempt: r.attempts,
      statusCode: last?.statusCode ?? null,
      error: last?.error ?? null,
      time: last?.at ?? r.createdAt,
      nextAttemptAt: r.status === "pending" ? r.nextAttemptAt : null,
      deliveredAt: r.deliveredAt,
      attempts: r.attemptsMade.map((a) => ({
        attempt: a.attempt,
        statusCode: a.statusCode,
        error: a.error,
        durationMs: a.durationMs,
        at: a.at,
      })),
    };
  });
}

/**
 * Sends a `webhook.test` event to one webhook, whatever it subscribes to, through the same signed,
 * retried delivery as every event. A disabled webhook is a 409.
 */
export async function sendTestEvent(input: {
  id: string;
  actor: Principal;
}): Promise<{ eventId: string; deliveryId: string }> {
  const w = await findWebhook(input.id);
  if (!w.enabled)
    throw new AppError("conflict", `webhook ${w.id} is disabled: ${w.disabledReason ?? "no reason given"}`);
  const eventId = newEventId();
  const payload: WebhookPayload = {
    type: TEST_EVENT_TYPE,
    timestamp: new Date().toISOString(),
    data: {
      webhookId: w.id,
      message: "A test event from Hubkeep: this webhook's URL and secret work.",
      sentBy: input.actor.kind === "user" ? input.actor.email : null,
    },
  };
  const queue = await readyQueue();
  const prisma = await db();
  await prisma.$transaction((tx) => writeDeliveries(tx, [w.id], eventId, payload));
  await scheduleSweepQuietly(queue);
  const delivery = await prisma.webhookDelivery.findUniqueOrThrow({
    where: { webhookId_eventId: { webhookId: w.id, eventId } },
    select: { id: true },
  });
  return { eventId, deliveryId: delivery.id };
}
