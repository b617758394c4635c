"use server";
// Server actions of the admin screens. Each one checks its permission itself (runAction's `require`
// audits a denial) and calls the same lib/ function as the JSON API.
import { canAdminister, canApprove, canCreateToken, canManageToken, canRequestMirror, canRevalidate } from "@/lib/auth/permissions.ts";
import { decideVersions } from "@/lib/models/review.ts";
import { requestRevalidation } from "@/lib/validation/job.ts";
import { addRule, removeRule } from "@/lib/upstream/allowlist.ts";
import { requestMirror } from "@/lib/models/mirrors.ts";
import { createUser, updateUser } from "@/lib/models/users.ts";
import { createApiToken, revokeApiToken, tokenOwner } from "@/lib/auth/tokens.ts";
import { AppError, toAppError } from "@/lib/errors.ts";
import { actionCaller, field, runAction } from "@/lib/http/page-context.ts";
import { recordAudit } from "@/lib/audit.ts";
import type { RoleName, ScopeName } from "@/lib/auth/principal.ts";

const ROLES: RoleName[] = ["viewer", "publisher", "admin"];
const SCOPES: ScopeName[] = ["read", "publish", "admin"];

function parseTarget(text: string): { handle: string; version: number } {
  const at = text.lastIndexOf("@");
  const version = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(version) || version <= 0) throw new AppError("bad_request", `"${text}" is not handle@version`);
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
    await ctx.require(canApprove(ctx.principal), "approve", `${target.handle}/${target.version}`);
    const decision = field(form, "decision");
    if (decision === "reject") {
      const reason = field(form, "reason");
      if (!reason) throw new AppError("unprocessable_entity", `rejecting ${target.handle} v${target.version} needs a reason`);
      return summarise("Rejected", await decideVersions({ decision: "reject", targets: [target], reason, actor: ctx.principal, ip: ctx.ip }));
    }
    if (decision === "override") {
      const overrideReason = field(form, "overrideReason");
      if (!overrideReason) throw new AppError("unprocessable_entity", `approving quarantined ${target.handle} v${target.version} needs an override reason`);
      return summarise("Approved (override)", await decideVersions({ decision: "approve", targets: [target], overrideReason, note: field(form, "note") || undefined, actor: ctx.principal, ip: ctx.ip }));
    }
    if (decision !== "approve") throw new AppError("bad_request", `unknown decision "${decision}"`);
    return summarise("Approved", await decideVersions({ decision: "approve", targets: [target], note: field(form, "note") || undefined, actor: ctx.principal, ip: ctx.ip }));
  });
}

/** Several versions at once (checkboxes named `target`). */
export async function bulkDecideAction(form: FormData) {
  await runAction(form, "/admin", async (ctx) => {
    await ctx.require(canApprove(ctx.principal), "approve");
    const targets = form.getAll("target").map((t) => parseTarget(String(t)));
    if (targets.length === 0) throw new AppError("unprocessable_entity", "select at least one version first");
    const decision = field(form, "decision");
    if (decision === "reject") {
      const reason = field(form, "reason");
      if (!reason) throw new AppError("unprocessable_entity", "a bulk rejection needs a reason");
      return summarise("Rejected", await decideVersions({ decision: "reject", targets, reason, actor: ctx.principal, ip: ctx.ip }));
    }
    return summarise("Approved", await decideVersions({ decision: "approve", targets, note: field(form, "note") || undefined, actor: ctx.principal, ip: ctx.ip }));
  });
}

export async function revalidateAction(form: FormData) {
  await runAction(form, "/admin", async (ctx) => {
    const target = parseTarget(field(form, "target"));
    await ctx.require(canRevalidate(ctx.principal), "approve", `${target.handle}/${target.version}`);
    await requestRevalidation({ ...target, actor: ctx.principal, ip: ctx.ip });
    return `Re-validation of ${target.handle} v${target.version} queued`;
  });
}

export async function addRuleAction(form: FormData) {
  await runAction(form, "/admin/allowlist", async (ctx) => {
    await ctx.require(canAdminister(ctx.principal), "admin");
    const pattern = field(form, "pattern");
    const effect = field(form, "effect") === "deny" ? "deny" : "allow";
    if (!pattern) throw new AppError("unprocessable_entity", "a rule needs a pattern");
    const rule = await addRule({ text: `${effect === "deny" ? "!" : ""}${pattern}`, note: field(form, "note") || undefined, actor: ctx.principal, ip: ctx.ip });
    return `Saved ${effect} rule ${rule.pattern}`;
  });
}

export async function removeRuleAction(form: FormData) {
  await runAction(form, "/admin/allowlist", async (ctx) => {
    await ctx.require(canAdminister(ctx.principal), "admin");
    await removeRule({ id: field(form, "id"), actor: ctx.principal, ip: ctx.ip });
    return "Rule removed";
  });
}

export async function requestMirrorAction(form: FormData) {
  await runAction(form, "/admin/mirrors", async (ctx) => {
    const url = field(form, "url");
    await ctx.require(canRequestMirror(ctx.principal), "mirror", url);
    if (!url) throw new AppError("unprocessable_entity", "enter a tfhub.dev or Kaggle model URL");
    const { mirror, existing } = await requestMirror({ url, actor: ctx.principal, ip: ctx.ip });
    const what = `${mirror.handle}${mirror.version ? ` v${mirror.version}` : ""}`;
    return { notice: existing ? `${what} is already mirrored` : `Mirroring ${what}`, returnTo: `/admin/mirrors?watch=${encodeURIComponent(mirror.id)}` };
  });
}

export async function createUserAction(form: FormData) {
  await runAction(form, "/admin/users", async (ctx) => {
    await ctx.require(canAdminister(ctx.principal), "admin");
    const role = field(form, "role") as RoleName;
    if (!ROLES.includes(role)) throw new AppError("unprocessable_entity", `role must be one of ${ROLES.join(", ")}`);
    const password = field(form, "password");
    const user = await createUser({ email: field(form, "email"), role, password: password || undefined, actor: ctx.principal, ip: ctx.ip, mustBeNew: true });
    return `Created ${user.email} (${user.role})${password ? "" : ": no password, so they sign in with single sign-on or get one later"}`;
  });
}

export async function updateUserAction(form: FormData) {
  await runAction(form, "/admin/users", async (ctx) => {
    await ctx.require(canAdminister(ctx.principal), "admin", `user ${field(form, "id")}`);
    const op = field(form, "op");
    const id = field(form, "id");
    if (op === "disable" || op === "enable") {
      const u = await updateUser({ id, disabled: op === "disable", actor: ctx.principal, ip: ctx.ip });
      return `${u.email} ${op === "disable" ? "disabled and signed out" : "enabled"}`;
    }
    const role = field(form, "role") as RoleName;
    if (!ROLES.includes(role)) throw new AppError("unprocessable_entity", `role must be one of ${ROLES.join(", ")}`);
    const namespaces = field(form, "namespaces").split(/[\s,]+/).filter(Boolean);
    const u = await updateUser({ id, role, namespaces, actor: ctx.principal, ip: ctx.ip });
    return `Saved ${u.email}: ${u.role}${u.namespaces.length ? `, namespaces ${u.namespaces.join(", ")}` : ""}`;
  });
}

export async function revokeTokenAction(form: FormData) {
  await runAction(form, "/tokens", async (ctx) => {
    const id = field(form, "id");
    const owner = await tokenOwner(id);
    if (!owner) throw new AppError("not_found", `no token ${id}`);
    await ctx.require(canManageToken(ctx.principal, owner), "token", `token ${id}`);
    await revokeApiToken({ tokenId: id, actor: ctx.principal, ip: ctx.ip });
    return "Token revoked: it stops working immediately";
  });
}

export type CreateTokenState = { token?: string; name?: string; scope?: string; expiresAt?: string | null; error?: string } | null;

/**
 * Creates a token for the signed-in user. It returns the secret to the form (useActionState) instead
 * of redirecting, so the token never appears in a URL, a log or the browser history; it is shown once.
 */
export async function createTokenAction(_prev: CreateTokenState, form: FormData): Promise<CreateTokenState> {
  try {
    const ctx = await actionCaller("/tokens");
    const p = ctx.principal;
    const scope = field(form, "scope") as ScopeName;
    if (!SCOPES.includes(scope)) throw new AppError("unprocessable_entity", `scope must be one of ${SCOPES.join(", ")}`);
    if (p.kind !== "user" || !canCreateToken(p, scope)) {
      await recordAudit({ actor: p, action: "denied.token", outcome: "denied", ip: ctx.ip, target: scope, details: { path: "/tokens", via: "server action" } });
      throw new AppError(p.kind === "user" ? "forbidden" : "unauthorized", p.kind === "user" ? `a ${scope} token is above your ${p.role} role` : "sign in first");
    }
    const days = field(form, "expiresInDays");
    const expiresInDays = days === "" || days === "never" ? undefined : Number(days);
    const name = field(form, "name") || undefined;
    const created = await createApiToken({ email: p.email, scope, name, expiresInDays, actor: p, ip: ctx.ip });
    return { token: created.token, name: name ?? "token", scope, expiresAt: created.expiresAt?.toISOString() ?? null };
  } catch (err) {
    const e = toAppError(err);
    if (e.code === "internal_error") console.error("hubkeep: token create failed:", err);
    return { error: e.code === "internal_error" ? "something went wrong; the server log has the details" : e.message };
  }
}
