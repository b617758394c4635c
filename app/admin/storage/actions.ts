"use server";
// Server actions of the storage screen: quotas and retention. Each names its rule and calls the same
// lib/ function as the JSON API.
import { RULES } from "@/lib/auth/permissions.ts";
import { deleteQuota, putQuota } from "@/lib/models/quotas.ts";
import { putRetentionRules, runRetention } from "@/lib/models/retention.ts";
import { retentionRulesSchema } from "@/lib/http/schemas.ts";
import { deleteVersion } from "@/lib/models/approval.ts";
import { parseVersionNumber } from "@/lib/handle-path.ts";
import { AppError } from "@/lib/errors.ts";
import { runAction } from "@/lib/http/page-context.ts";
import { field } from "@/lib/http/form-field.ts";

const BACK = "/admin/storage";

export async function setQuotaAction(form: FormData) {
  await runAction(form, BACK, async (ctx) => {
    await ctx.authorize(RULES.admin);
    const text = field(form, "maxBytes").replace(/[_,\s]/g, "");
    const r = await putQuota({
      namespace: field(form, "namespace"),
      maxBytes: /^\d+$/.test(text) ? Number(text) : text,
      actor: ctx.principal,
      ip: ctx.ip,
    });
    return r.warning ?? `Quota of ${r.quota.namespace} set to ${r.quota.maxBytes} bytes`;
  });
}

export async function removeQuotaAction(form: FormData) {
  await runAction(form, BACK, async (ctx) => {
    await ctx.authorize(RULES.admin);
    await deleteQuota({ id: field(form, "id"), actor: ctx.principal, ip: ctx.ip });
    return "Quota removed";
  });
}

export async function saveRetentionAction(form: FormData) {
  await runAction(form, BACK, async (ctx) => {
    await ctx.authorize(RULES.admin);
    let parsed: unknown;
    try {
      parsed = JSON.parse(field(form, "rules") || "[]");
    } catch {
      throw new AppError("unprocessable_entity", "rules: not JSON (a list of rules)");
    }
    const { rules } = retentionRulesSchema.parse({ rules: parsed });
    const saved = await putRetentionRules({ rules, actor: ctx.principal, ip: ctx.ip });
    return `Saved ${saved.length} retention rule(s)`;
  });
}

/** Deletes the versions the preview listed (those the rules still select), nothing else. */
export async function confirmRetentionAction(form: FormData) {
  await runAction(form, BACK, async (ctx) => {
    await ctx.authorize(RULES.admin);
    const only = form.getAll("target").map((t) => {
      const s = typeof t === "string" ? t : "";
      const at = s.lastIndexOf("@");
      return { handle: s.slice(0, at), version: Number(s.slice(at + 1)) };
    });
    if (only.length === 0) throw new AppError("unprocessable_entity", "nothing to delete: preview first");
    const r = await runRetention({ dryRun: false, actor: ctx.principal, ip: ctx.ip, only });
    return `Deleted ${r.versions.length} version(s); run gc to reclaim their bytes`;
  });
}

/** Deletes one version by hand, with a reason (the same as DELETE /api/v1/models/{handle}/versions/{n}). */
export async function deleteVersionAction(form: FormData) {
  await runAction(form, BACK, async (ctx) => {
    const handle = field(form, "handle").trim().toLowerCase();
    const version = parseVersionNumber(field(form, "version").trim());
    if (!handle) throw new AppError("unprocessable_entity", "handle: which model?");
    if (version === null) throw new AppError("unprocessable_entity", "version: a version number (1, 2, …)");
    await ctx.authorize(RULES.admin, `${handle}/${version}`);
    const r = await deleteVersion({ handle, version, reason: field(form, "reason"), actor: ctx.principal, ip: ctx.ip });
    return `Deleted ${r.handle} v${r.version} (was ${r.previousStatus}); run gc to reclaim its bytes`;
  });
}
