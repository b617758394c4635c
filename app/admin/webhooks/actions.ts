"use server";
// Server actions of the webhooks screen. Each names its permission rule and calls the same
// lib/models/webhooks.ts function as the JSON API.
import { revalidatePath } from "next/cache";
import { RULES } from "@/lib/auth/permissions.ts";
import { createWebhook, deleteWebhook, sendTestEvent } from "@/lib/models/webhooks.ts";
import { toAppError } from "@/lib/errors.ts";
import { actionCaller, runAction } from "@/lib/http/page-context.ts";
import { authorize } from "@/lib/http/authorize.ts";
import { field } from "@/lib/http/form-field.ts";
import { getLogger } from "@/lib/log.ts";

export type CreateWebhookState = { id?: string; url?: string; secret?: string; error?: string } | null;

/**
 * Registers a webhook. It returns the signing secret to the form (useActionState) instead of
 * redirecting, so the secret never appears in a URL, a log or the browser history; it is shown once.
 */
export async function createWebhookAction(_prev: CreateWebhookState, form: FormData): Promise<CreateWebhookState> {
  try {
    const ctx = await actionCaller("/admin/webhooks");
    const p = await authorize({ ...ctx, channel: "action", method: "POST" }, RULES.admin, "webhooks");
    const events = form.getAll("events").filter((v): v is string => typeof v === "string");
    const created = await createWebhook({
      url: field(form, "url"),
      events,
      description: field(form, "description") || undefined,
      actor: p,
      ip: ctx.ip,
    });
    revalidatePath("/admin/webhooks");
    return { id: created.id, url: created.url, secret: created.secret };
  } catch (err) {
    const e = toAppError(err);
    if (e.code === "internal_error") getLogger().error({ err }, "webhook create failed");
    return { error: e.code === "internal_error" ? "something went wrong; the server log has the details" : e.message };
  }
}

export async function sendTestWebhookAction(form: FormData) {
  await runAction(form, "/admin/webhooks", async (ctx) => {
    await ctx.authorize(RULES.admin, "webhooks");
    const id = field(form, "id");
    const sent = await sendTestEvent({ id, actor: ctx.principal });
    return {
      notice: `Test event ${sent.eventId} queued: its delivery is below`,
      returnTo: `/admin/webhooks?deliveries=${encodeURIComponent(id)}#deliveries`,
    };
  });
}

export async function deleteWebhookAction(form: FormData) {
  await runAction(form, "/admin/webhooks", async (ctx) => {
    await ctx.authorize(RULES.admin, "webhooks");
    await deleteWebhook({ id: field(form, "id"), actor: ctx.principal, ip: ctx.ip });
    return { notice: "Webhook deleted, with its deliveries", returnTo: "/admin/webhooks" };
  });
}
