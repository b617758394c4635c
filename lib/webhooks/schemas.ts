// The webhook API's input shapes (POST /api/v1/webhooks), parsed by the route, the admin screen's
// action and lib/models/webhooks.ts alike. Zod issues name their field (`url: …`, `events.1: …`).
import { z } from "zod";
import { ALL_EVENTS, WEBHOOK_EVENT_TYPES, type WebhookSubscription } from "./events.ts";
import { parseTargetUrl } from "./target-url.ts";

export const createWebhookSchema = z.object({
  url: z
    .string({ error: "expected the receiver's http(s) URL" })
    .trim()
    .min(1, "expected the receiver's http(s) URL")
    .max(2000, "at most 2000 characters")
    .superRefine((v, ctx) => {
      const parsed = parseTargetUrl(v);
      if ("reason" in parsed) ctx.addIssue({ code: "custom", message: parsed.reason });
    }),
  events: z
    .array(
      z.enum([...WEBHOOK_EVENT_TYPES, ALL_EVENTS], {
        error: (issue) =>
          `unknown event type ${JSON.stringify(issue.input)} (expected ${WEBHOOK_EVENT_TYPES.join(", ")} or "${ALL_EVENTS}")`,
      }),
      { error: "expected a list of event types" },
    )
    .min(1, `subscribe to at least one event type (or "${ALL_EVENTS}" for all)`)
    .transform((events): WebhookSubscription[] => [...new Set(events)]),
  description: z.string().trim().max(500, "at most 500 characters").optional(),
});

export type CreateWebhookInput = z.infer<typeof createWebhookSchema>;

export const deliveriesQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).optional(),
});
