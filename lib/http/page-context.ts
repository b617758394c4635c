// The same four steps as a route handler, for server components and server actions: resolve the
// caller from the request's headers (session cookie), check a pure permission predicate, audit a
// denial, call a lib/ function. Server actions also refuse cross-site posts themselves rather than
// relying on Next's own origin check alone.
import { cache } from "react";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { AppError, toAppError } from "../errors.ts";
import { recordAudit } from "../audit.ts";
import { getEnv } from "../env.ts";
import { describePermission, type Permission } from "../auth/permissions.ts";
import { ANONYMOUS, type Principal } from "../auth/principal.ts";
import { crossSiteRefusal } from "../auth/csrf.ts";
import { authenticateRequest, peerIp } from "./authenticate.ts";

export type PageContext = { principal: Principal; ip: string | null; path: string };

// Once per request: the layout and the page both ask, and a session costs a cookie decryption and a
// database read.
const requestCaller = cache(async (): Promise<{ principal: Principal; ip: string | null }> => {
  const h = await headers();
  const principal = await authenticateRequest({ headers: h } as unknown as Request).catch(() => ANONYMOUS);
  return { principal, ip: peerIp(h) };
});

/** The caller of the page or action being rendered. A bad bearer token reads as anonymous here. */
export async function pageContext(path: string): Promise<PageContext> {
  return { ...(await requestCaller()), path };
}

/**
 * A server action's caller, refusing (403, audited as denied.csrf) a signed-in caller's cross-site post.
 * Every action goes through here, whether it redirects (runAction) or returns state to its form.
 */
export async function actionCaller(path: string): Promise<PageContext> {
  const ctx = await pageContext(path);
  const refusal = ctx.principal.kind === "user" ? crossSiteRefusal(await headers(), getEnv().publicUrl) : null;
  if (refusal) {
    await recordAudit({ actor: ctx.principal, action: "denied.csrf", outcome: "denied", ip: ctx.ip, details: { path, reason: refusal, via: "server action" } });
    throw new AppError("forbidden", refusal);
  }
  return ctx;
}

/**
 * For pages: returns the context when `allowed(principal)` holds. Otherwise audits the denied view
 * and either sends an anonymous caller to sign in or returns `denied` naming the permission.
 */
export async function guardPage(path: string, allowed: (p: Principal) => boolean, perm: Permission): Promise<PageContext & { denied: string | null }> {
  const ctx = await pageContext(path);
  if (allowed(ctx.principal)) return { ...ctx, denied: null };
  await recordAudit({ actor: ctx.principal, action: `denied.${perm}`, outcome: "denied", ip: ctx.ip, target: path, details: { method: "GET", path } });
  if (ctx.principal.kind === "anonymous") redirect(`/signin?callbackUrl=${encodeURIComponent(path)}`);
  return { ...ctx, denied: `This page needs the ${describePermission(perm)} permission. You are signed in as ${ctx.principal.email} (${ctx.principal.role}).` };
}

/** Where an action returns to: a local path only (never another origin). */
export function safeReturnPath(value: FormDataEntryValue | null, fallback: string): string {
  const v = typeof value === "string" ? value : "";
  return /^\/(?![/\\])[^\s]*$/.test(v) ? v : fallback;
}

function withMessage(path: string, key: "notice" | "error", message: string): string {
  const url = new URL(path, "http://local");
  url.searchParams.delete("notice");
  url.searchParams.delete("error");
  url.searchParams.set(key, message.slice(0, 500));
  return url.pathname + url.search + (url.hash || "");
}

export type ActionContext = PageContext & {
  form: FormData;
  /** Throws 401/403 (audited, naming the permission) unless `allowed`. */
  require(allowed: boolean, perm: Permission, target?: string): Promise<void>;
};

/**
 * Runs a server action: authenticates, refuses cross-site posts, runs `fn`, then redirects back to
 * the form's `returnTo` (or the one `fn` names) with `?notice=` (what `fn` returned) or `?error=`
 * (what went wrong).
 */
export async function runAction(form: FormData, fallbackPath: string, fn: (ctx: ActionContext) => Promise<string | { notice: string; returnTo: string }>): Promise<never> {
  let back = safeReturnPath(form.get("returnTo"), fallbackPath);
  let outcome: { key: "notice" | "error"; message: string };
  try {
    const base = await actionCaller(back);
    const ctx: ActionContext = {
      ...base,
      form,
      async require(allowed, perm, target) {
        if (allowed) return;
        await recordAudit({ actor: base.principal, action: `denied.${perm}`, outcome: "denied", ip: base.ip, target, details: { method: "POST", path: back, via: "server action" } });
        if (base.principal.kind === "anonymous") throw new AppError("unauthorized", "your session has ended: sign in again");
        throw new AppError("forbidden", `this needs the ${describePermission(perm)} permission`);
      },
    };
    const done = await fn(ctx);
    if (typeof done === "string") outcome = { key: "notice", message: done };
    else {
      outcome = { key: "notice", message: done.notice };
      back = safeReturnPath(done.returnTo, back);
    }
  } catch (err) {
    const e = toAppError(err);
    outcome = { key: "error", message: e.code === "internal_error" ? "something went wrong; the server log has the details" : e.message };
    if (e.code === "internal_error") console.error("hubkeep: server action failed:", err);
  }
  redirect(withMessage(back, outcome.key, outcome.message));
}

/** A form field as a trimmed string ("" when missing). */
export function field(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === "string" ? v.trim() : "";
}
