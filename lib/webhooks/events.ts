// The webhook event vocabulary: the contract's event types, "*" for all of them, and the test event
// an admin sends by hand. Declared once; the API, the admin screen and the emitters import it.

export const WEBHOOK_EVENT_TYPES = [
  "version.created",
  "version.validated",
  "version.failed",
  "version.quarantined",
  "version.approved",
  "version.rejected",
  "version.deleted",
  "alias.moved",
  "mirror.failed",
  "upstream.drift",
  "quota.warning",
  "quota.exceeded",
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Subscribes a webhook to every event type, including ones added later. */
export const ALL_EVENTS = "*";

/** What a webhook may subscribe to: an event type or "*". */
export type WebhookSubscription = WebhookEventType | typeof ALL_EVENTS;

/** The event `POST /api/v1/webhooks/{id}/test` sends: to that webhook only, whatever it subscribes to. */
export const TEST_EVENT_TYPE = "webhook.test";

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

export function isWebhookSubscription(value: string): value is WebhookSubscription {
  return value === ALL_EVENTS || isWebhookEventType(value);
}

/** Does a webhook subscribed to `events` receive `type`? */
export function subscribesTo(events: readonly string[], type: string): boolean {
  return events.includes(ALL_EVENTS) || events.includes(type);
}

/** The event a version status change sends, or null when that status sends none. */
export function versionEventFor(status: string): WebhookEventType | null {
  const type = `version.${status}`;
  return type !== "version.created" && isWebhookEventType(type) ? type : null;
}

/** The body of every delivery (the Standard Webhooks payload shape). */
export type WebhookPayload = { type: string; timestamp: string; data: Record<string, unknown> };

/** The body bytes, with the top-level keys always in the contract's order. */
export function serializePayload(p: WebhookPayload): string {
  return JSON.stringify({ type: p.type, timestamp: p.timestamp, data: p.data });
}
