// The same four steps as a route handler, for server components and server actions: resolve the
// caller from the request's headers (session cookie), name a permission rule (refused and audited
// by lib/http/authorize.ts), call a lib/ function. Server actions also refuse cross-site posts
// themselves rather than relying on Next's own origin check alone.
import { cache } from "react";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { toAppError } from "../errors.ts";
import { currentRequest, getLogger } from "../log.ts";
import { getEnv } from "../env.ts";
import { describePermission, type Rule } from "../auth/permissions.ts";
import { ANONYMOUS, type Principal } from "../auth/principal.ts";
import { crossSiteRefusal } from "../auth/csrf.ts";
import { authenticateRequest, peerIp } from "./authenticate.ts";
import { authorize, csrfRefusal, refusal, type Caller } from "./authorize.ts";

export type PageContext<Q extends Principal = Principal> = { principal: Q; ip: string | null; path: string };

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
  const reason = ctx.principal.kind === "user" ? crossSiteRefusal(await headers(), getEnv().publicUrl) : null;
  if (reason) throw await csrfRefusal(callerOf(ctx, "action"), reason);
  return ctx;
}

function callerOf(ctx: PageContext, channel: "page" | "action"): Caller {
  return { principal: ctx.principal, ip: ctx.ip, channel, method: channel === "page" ? "GET" : "POST", path: ctx.path };
}

/** A page's caller when its rule allows them, or the message a refused signed-in caller sees. */
export type GuardedPage<Q extends Principal> = ({ denied: null } & PageContext<Q>) | ({ denied: string } & PageContext);

/**
 * For pages: the context, narrowed, when `rule` allows the caller. Otherwise the denied view is
 * audited (authorize.ts) and an anonymous caller is sent to sign in; anyone else gets `denied`.
 */
export async function guardPage<Q extends Principal>(path: string, rule: Rule<Q>): Promise<GuardedPage<Q>> {
  const ctx = await pageContext(path);
  if (rule.allows(ctx.principal)) return { ...ctx, principal: ctx.principal, denied: null };
  await refusal(callerOf(ctx, "page"), rule, path);
  const p = ctx.principal;
  if (p.kind !== "user") redirect(`/signin?callbackUrl=${encodeURIComponent(path)}`);
  return {
    ...ctx,
    denied: `This page needs the ${describePermission(rule.permission)} permission. You are signed in as ${p.email} (${p.role}).`,
  };
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
  /** The principal narrowed by `rule`; 401/403 (audited, naming the permission) unless it allows. */
  authorize<Q extends Principal>(rule: Rule<Q>, target?: string): Promise<Q>;
};

/**
 * Runs a server action: authenticates, refuses cross-site posts, runs `fn`, then redirects back to
 * the form's `returnTo` (or the one `fn` names) with `?notice=` (what `fn` returned) or `?error=`
 * (what went wrong).
 */
export async function runAction(
  form: FormData,
  fallbackPath: string,
  fn: (ctx: ActionContext) => Promise<string | { notice: string; returnTo: string }>,
): Promise<never> {
  let back = safeReturnPath(form.get("returnTo"), fallbackPath);
  let outcome: { key: "notice" | "error"; message: string };
  try {
    const base = await actionCaller(back);
    const caller = callerOf(base, "action");
    const ctx: ActionContext = { ...base, form, authorize: (rule, target) => authorize(caller, rule, target) };
    const done = await fn(ctx);
    if (typeof done === "string") outcome = { key: "notice", message: done };
    else {
      outcome = { key: "notice", message: done.notice };
      back = safeReturnPath(done.returnTo, back);
    }
  } catch (err) {
    const e = toAppError(err);
    outcome = {
      key: "error",
      message: e.code === "internal_error" ? "something went wrong; the server log has the details" : e.message,
    };
    if (e.code === "internal_error")
      getLogger().error({ err, requestId: currentRequest()?.requestId }, "server action failed");
  }
  redirect(withMessage(back, outcome.key, outcome.message));
}
