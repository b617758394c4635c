"use server";
// Server actions of the admin screens. Each one names its permission rule (ctx.authorize refuses and
// audits) and calls the same lib/ function as the JSON API.
import { RULES } from "@/lib/auth/permissions.ts";
import { decideVersions } from "@/lib/models/review.ts";
import { requestRevalidation } from "@/lib/models/validation-job.ts";
import { addRule, removeRule } from "@/lib/models/allowlist.ts";
import { requestMirror } from "@/lib/models/mirror-request.ts";
import { createUser, updateUser } from "@/lib/models/users.ts";
import { AppError } from "@/lib/errors.ts";
import { runAction } from "@/lib/http/page-context.ts";
import { field } from "@/lib/http/form-field.ts";
import { ROLES, type Role } from "@/lib/auth/principal.ts";

function parseTarget(text: string): { handle: string; version: number } {
  const at = text.lastIndexOf("@");
  const version = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(version) || version <= 0)
    throw new AppError("bad_request", `"${text}" is not handle@version`);
  return { handle: text.slice(0, at), version };
}

function summarise(verb: string, results: Awaited<ReturnType<typeof decideVersions>>): string {
  const ok = results.filter((r) => r.ok);
  const bad = results.filter((r) => !r.ok);
  if (bad.length === 0) return `${verb} ${ok.map((r) => `${r.handle} v${r.version}`).join(", ")}`;
  const refusals = bad.map((r) => r.error!.message).join("; ");
  if (ok.length === 0) throw new AppError(bad[0]!.error!.code as never, refusals);
  return `${verb} ${ok.length}; not ${verb.toLowerCase()}: ${refusals}`;
}

/** One version: approve (optional note), approve with override (reason), or reject (reason). */
export async function decideOneAction(form: FormData) {
  await runAction(form, "/admin", async (ctx) => {
    const target = parseTarget(field(form, "target"));
    await ctx.authorize(RULES.approve, `${target.handle}/${target.version}`);
    const decision = field(form, "decision");
    if (decision === "reject") {
      const reason = field(form, "reason");
      if (!reason)
        throw new AppError("unprocessable_entity", `rejecting ${target.handle} v${target.version} needs a reason`);
      return summarise(
        "Rejected",
        await decideVersions({ decision: "reject", targets: [target], reason, actor: ctx.principal, ip: ctx.ip }),
      );
    }
    if (decision === "override") {
      const overrideReason = field(form, "overrideReason");
      if (!overrideReason)
        throw new AppError(
          "unprocessable_entity",
          `approving quarantined ${target.handle} v${target.version} needs an override reason`,
        );
      return summarise(
        "Approved (override)",
        await decideVersions({
          decision: "approve",
          targets: [target],
          overrideReason,
          note: field(form, "note") || undefined,
          actor: ctx.principal,
          ip: ctx.ip,
        }),
      );
    }
    if (decision !== "approve") throw new AppError("bad_request", `unknown decision "${decision}"`);
    return summarise(
      "Approved",
      await decideVersions({
        decision: "approve",
        targets: [target],
        note: field(form, "note") || undefined,
        actor: ctx.principal,
        ip: ctx.ip,
      }),
    );
  });
}

/** Several versions at once (checkboxes named `target`). */
export async function bulkDecideAction(form: FormData) {
  await runAction(form, "/admin", async (ctx) => {
    await ctx.authorize(RULES.approve);
    const targets = form.getAll("target").map((t) => parseTarget(typeof t === "string" ? t : ""));
    if (targets.length === 0) throw new AppError("unprocessable_entity", "select at least one version first");
    const decision = field(form, "decision");
    if (decision === "reject") {
      const reason = field(form, "reason");
      if (!reason) throw new AppError("unprocessable_entity", "a bulk rejection needs a reason");
      return summarise(
        "Rejected",
        await decideVersions({ decision: "reject", targets, reason, actor: ctx.principal, ip: ctx.ip }),
      );
    }
    return summarise(
      "Approved",
      await decideVersions({
        decision: "approve",
        targets,
        note: field(form, "note") || undefined,
        actor: ctx.principal,
        ip: ctx.ip,
      }),
    );
  });
}

export async function revalidateAction(form: FormData) {
  await runAction(form, "/admin", async (ctx) => {
    const target = parseTarget(field(form, "target"));
    await ctx.authorize(RULES.revalidate, `${target.handle}/${target.version}`);
    await requestRevalidation({ ...target, actor: ctx.principal, ip: ctx.ip });
    return `Re-validation of ${target.handle} v${target.version} queued`;
  });
}

export async function addRuleAction(form: FormData) {
  await runAction(form, "/admin/allowlist", async (ctx) => {
    await ctx.authorize(RULES.admin);
    const pattern = field(form, "pattern");
    const effect = field(form, "effect") === "deny" ? "deny" : "allow";
    if (!pattern) throw new AppError("unprocessable_entity", "a rule needs a pattern");
    const rule = await addRule({
      text: `${effect === "deny" ? "!" : ""}${pattern}`,
      note: field(form, "note") || undefined,
      actor: ctx.principal,
      ip: ctx.ip,
    });
    return `Saved ${effect} rule ${rule.pattern}`;
  });
}

export async function removeRuleAction(form: FormData) {
  await runAction(form, "/admin/allowlist", async (ctx) => {
    await ctx.authorize(RULES.admin);
    await removeRule({ id: field(form, "id"), actor: ctx.principal, ip: ctx.ip });
    return "Rule removed";
  });
}

export async function requestMirrorAction(form: FormData) {
  await runAction(form, "/admin/mirrors", async (ctx) => {
    const url = field(form, "url");
    await ctx.authorize(RULES.mirror, url);
    if (!url) throw new AppError("unprocessable_entity", "enter a tfhub.dev or Kaggle model URL");
    const { mirror, existing } = await requestMirror({ url, actor: ctx.principal, ip: ctx.ip });
    const what = `${mirror.handle}${mirror.version ? ` v${mirror.version}` : ""}`;
    return {
      notice: existing ? `${what} is already mirrored` : `Mirroring ${what}`,
      returnTo: `/admin/mirrors?watch=${encodeURIComponent(mirror.id)}`,
    };
  });
}

export async function createUserAction(form: FormData) {
  await runAction(form, "/admin/users", async (ctx) => {
    await ctx.authorize(RULES.admin);
    const role = field(form, "role") as Role;
    if (!ROLES.includes(role)) throw new AppError("unprocessable_entity", `role must be one of ${ROLES.join(", ")}`);
    const password = field(form, "password");
    const user = await createUser({
      email: field(form, "email"),
      role,
      password: password || undefined,
      actor: ctx.principal,
      ip: ctx.ip,
      mustBeNew: true,
    });
    return `Created ${user.email} (${user.role})${password ? "" : ": no password, so they sign in with single sign-on or get one later"}`;
  });
}

export async function updateUserAction(form: FormData) {
  await runAction(form, "/admin/users", async (ctx) => {
    await ctx.authorize(RULES.admin, `user ${field(form, "id")}`);
    const op = field(form, "op");
    const id = field(form, "id");
    if (op === "disable" || op === "enable") {
      const u = await updateUser({ id, disabled: op === "disable", actor: ctx.principal, ip: ctx.ip });
      return `${u.email} ${op === "disable" ? "disabled and signed out" : "enabled"}`;
    }
    const role = field(form, "role") as Role;
    if (!ROLES.includes(role)) throw new AppError("unprocessable_entity", `role must be one of ${ROLES.join(", ")}`);
    const namespaces = field(form, "namespaces")
      .split(/[\s,]+/)
      .filter(Boolean);
    const u = await updateUser({ id, role, namespaces, actor: ctx.principal, ip: ctx.ip });
    return `Saved ${u.email}: ${u.role}${u.namespaces.length ? `, namespaces ${u.namespaces.join(", ")}` : ""}`;
  });
}
