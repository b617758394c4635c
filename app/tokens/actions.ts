"use server";
// Server actions of the tokens screen: a signed-in user's own API tokens (admins also revoke
// others'). Each names its permission rule and calls the same lib/auth function as the JSON API.
import { RULES } from "@/lib/auth/permissions.ts";
import { createApiToken, revokeApiToken, tokenOwner } from "@/lib/auth/tokens.ts";
import { AppError, toAppError } from "@/lib/errors.ts";
import { actionCaller, runAction } from "@/lib/http/page-context.ts";
import { field } from "@/lib/http/form-field.ts";
import { authorize } from "@/lib/http/authorize.ts";
import { SCOPES, type TokenScope } from "@/lib/auth/principal.ts";

export async function revokeTokenAction(form: FormData) {
  await runAction(form, "/tokens", async (ctx) => {
    const id = field(form, "id");
    const owner = await tokenOwner(id);
    if (!owner) throw new AppError("not_found", `no token ${id}`);
    await ctx.authorize(RULES.manageToken(owner), `token ${id}`);
    await revokeApiToken({ tokenId: id, actor: ctx.principal, ip: ctx.ip });
    return "Token revoked: it stops working immediately";
  });
}

export type CreateTokenState = {
  token?: string;
  name?: string;
  scope?: string;
  expiresAt?: string | null;
  error?: string;
} | null;

/**
 * Creates a token for the signed-in user. It returns the secret to the form (useActionState) instead
 * of redirecting, so the token never appears in a URL, a log or the browser history; it is shown once.
 */
export async function createTokenAction(_prev: CreateTokenState, form: FormData): Promise<CreateTokenState> {
  try {
    const ctx = await actionCaller("/tokens");
    const scope = field(form, "scope") as TokenScope;
    if (!SCOPES.includes(scope))
      throw new AppError("unprocessable_entity", `scope must be one of ${SCOPES.join(", ")}`);
    const p = await authorize({ ...ctx, channel: "action", method: "POST" }, RULES.createToken(scope), scope);
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
