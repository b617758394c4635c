"use server";
// Server actions of the model page: aliases. Each names its rule and calls the same lib/ function as
// PUT/DELETE /api/v1/models/{handle}/aliases/{name}.
import { RULES } from "@/lib/auth/permissions.ts";
import { removeAlias, setAlias } from "@/lib/models/aliases.ts";
import { parseVersionNumber } from "@/lib/handle-path.ts";
import { AppError } from "@/lib/errors.ts";
import { runAction } from "@/lib/http/page-context.ts";
import { field } from "@/lib/http/form-field.ts";

/** Sets or moves an alias (the form's `name` and `version`); back to the page it came from. */
export async function setAliasAction(form: FormData) {
  const handle = field(form, "handle").trim().toLowerCase();
  await runAction(form, `/${handle}`, async (ctx) => {
    const name = field(form, "name").trim();
    const version = parseVersionNumber(field(form, "version").trim());
    if (version === null) throw new AppError("unprocessable_entity", "version: a version number (1, 2, …)");
    await ctx.authorize(RULES.admin, `${handle}@${name}`);
    const r = await setAlias({ handle, name, version, actor: ctx.principal, ip: ctx.ip });
    if (!r.changed) return `@${r.alias} already points to version ${r.version}`;
    return r.previousVersion === null
      ? `@${r.alias} now points to version ${r.version}`
      : `@${r.alias} moved from version ${r.previousVersion} to ${r.version}`;
  });
}

export async function removeAliasAction(form: FormData) {
  const handle = field(form, "handle").trim().toLowerCase();
  await runAction(form, `/${handle}`, async (ctx) => {
    const name = field(form, "name").trim();
    await ctx.authorize(RULES.admin, `${handle}@${name}`);
    const r = await removeAlias({ handle, name, actor: ctx.principal, ip: ctx.ip });
    return `Removed @${r.alias} (it pointed to version ${r.previousVersion})`;
  });
}
