// The one place a caller is refused. Routes (lib/http/api.ts), pages and server actions
// (lib/http/page-context.ts) name a rule of lib/auth/permissions.ts; `authorize` lets the caller
// through, narrowed to what the rule proves, or audits the denial and throws 401 (anonymous) or 403
// (naming the permission). CSRF refusals are audited here too.
import { AppError } from "../errors.ts";
import { recordAudit } from "../models/audit.ts";
import { describePermission, type Rule } from "../auth/permissions.ts";
import type { Principal } from "../auth/principal.ts";

/** How a request reached us; it decides the audit details and the wording of a 401. */
export type Channel = "api" | "page" | "action";

/** The caller being checked, and the request it made. */
export type Caller<Q extends Principal = Principal> = {
  principal: Q;
  ip: string | null;
  channel: Channel;
  method: string;
  path: string;
};

const ANONYMOUS_MESSAGE: Record<Channel, string> = {
  api: "authentication required: sign in, or send Authorization: Bearer <token>",
  page: "sign in first",
  action: "your session has ended: sign in again",
};

function requestDetails(caller: Caller): Record<string, unknown> {
  return { method: caller.method, path: caller.path, ...(caller.channel === "action" ? { via: "server action" } : {}) };
}

/**
 * Returns the caller's principal, narrowed to what `rule` proves, when the rule allows it. Otherwise
 * records one `denied.<permission>` audit event and throws 401 for an anonymous caller, 403 naming
 * the permission (and the rule's explanation) for anyone else.
 */
export async function authorize<Q extends Principal>(caller: Caller, rule: Rule<Q>, target?: string): Promise<Q> {
  if (rule.allows(caller.principal)) return caller.principal;
  throw await refusal(caller, rule, target);
}

/**
 * For a resource the caller may not know exists: 404 with `message` unless `allowed`, and no audit
 * event (a probe for ids is not a permission question).
 */
export function concealUnless(allowed: boolean, message: string): void {
  if (!allowed) throw new AppError("not_found", message);
}

/** Audits the denial of `rule` to `caller` and returns the error to throw or show. */
export async function refusal(caller: Caller, rule: Rule<Principal>, target?: string): Promise<AppError> {
  await recordAudit({
    actor: caller.principal,
    action: `denied.${rule.permission}`,
    outcome: "denied",
    ip: caller.ip,
    target,
    details: requestDetails(caller),
  });
  if (caller.principal.kind === "anonymous") return new AppError("unauthorized", ANONYMOUS_MESSAGE[caller.channel]);
  const why = rule.explain?.(caller.principal);
  return new AppError(
    "forbidden",
    `this needs the ${describePermission(rule.permission)} permission${why ? `: ${why}` : ""}`,
  );
}

/** Audits and returns the 403 for a cross-site request a signed-in caller's browser sent. */
export async function csrfRefusal(
  caller: Caller,
  reason: string,
  extra: Record<string, unknown> = {},
): Promise<AppError> {
  const details =
    caller.channel === "api"
      ? { method: caller.method, path: caller.path, reason, ...extra }
      : { path: caller.path, reason, via: "server action" };
  await recordAudit({ actor: caller.principal, action: "denied.csrf", outcome: "denied", ip: caller.ip, details });
  return new AppError("forbidden", reason);
}
