// Aliases: a movable name (`prod`, `canary`) for one approved version of a model. `/{handle}/@{name}`
// answers 302 to the pinned URL of the version it points to (lib/hub); the model document lists
// them; TF Serving's version_labels come from them. Only this module writes them: every change is
// audited (alias.set, alias.remove) and sent as `alias.moved` in the same transaction.
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { actorUserId, type Principal } from "../auth/principal.ts";
import { recordAudit } from "./audit.ts";
import { forgetServable } from "./served-versions.ts";
import { forgetCatalogueCache } from "./catalogue.ts";
import { emitEvent } from "./webhooks.ts";

export const ALIAS_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** An alias as the model page and the API show it. */
export type AliasView = {
  name: string;
  version: number;
  /** The status of the version it points to: anything but `approved` means it serves nothing now. */
  status: string;
  setBy: string | null;
  updatedAt: Date;
};

/** Checks an alias name against the grammar; the error names it and the rule. */
export function checkAliasName(name: unknown): string {
  if (typeof name !== "string" || !ALIAS_NAME.test(name))
    throw new AppError(
      "unprocessable_entity",
      `alias "${String(name).slice(0, 40)}" is not a name: use a lowercase letter, then up to 31 lowercase letters, digits or hyphens`,
    );
  return name;
}

async function findModule(handle: string) {
  const prisma = await db();
  const m = await prisma.module.findUnique({
    where: { handle: handle.toLowerCase() },
    select: { id: true, handle: true },
  });
  if (!m) throw new AppError("not_found", `no model ${handle}`);
  return m;
}

/**
 * Points `name` at version `version` (creating or moving it). Only an approved version: any other
 * status is a 409 naming it. Setting it to where it already points changes nothing and sends nothing.
 */
export async function setAlias(input: {
  handle: string;
  name: string;
  version: number;
  actor: Principal;
  ip?: string | null;
}): Promise<{ handle: string; alias: string; version: number; previousVersion: number | null; changed: boolean }> {
  const name = checkAliasName(input.name);
  const m = await findModule(input.handle);
  const prisma = await db();
  const result = await prisma.$transaction(async (tx) => {
    // Lock the version row so a concurrent reject or delete cannot slip between the check and the write.
    const rows = await tx.$queryRaw<Array<{ id: string; status: string }>>`
      SELECT id, status::text AS status FROM "Version" WHERE "moduleId" = ${m.id} AND number = ${input.version} FOR UPDATE`;
    const v = rows[0];
    if (!v) throw new AppError("not_found", `no version ${input.version} of ${m.handle}`);
    if (v.status !== "approved")
      throw new AppError(
        "conflict",
        `${m.handle}/${input.version} is ${v.status}: an alias can only point to an approved version`,
        { status: v.status },
      );
    const before = await tx.alias.findUnique({
      where: { moduleId_name: { moduleId: m.id, name } },
      include: { version: { select: { number: true } } },
    });
    const previousVersion = before?.version.number ?? null;
    if (before && before.versionId === v.id) return { previousVersion, changed: false };
    await tx.alias.upsert({
      where: { moduleId_name: { moduleId: m.id, name } },
      create: { moduleId: m.id, name, versionId: v.id, setById: actorUserId(input.actor) },
      update: { versionId: v.id, setById: actorUserId(input.actor) },
    });
    await recordAudit(
      {
        actor: input.actor,
        action: "alias.set",
        targetType: "model",
        target: m.handle,
        ip: input.ip ?? null,
        details: { alias: name, version: input.version, previousVersion },
      },
      tx,
    );
    await emitEvent("alias.moved", { handle: m.handle, alias: name, version: input.version, previousVersion }, tx);
    return { previousVersion, changed: true };
  });
  forgetServable(m.handle);
  forgetCatalogueCache();
  return { handle: m.handle, alias: name, version: input.version, ...result };
}

/** Removes an alias; a 404 when the model has no such alias. Sent as `alias.moved` with version null. */
export async function removeAlias(input: {
  handle: string;
  name: string;
  actor: Principal;
  ip?: string | null;
}): Promise<{ handle: string; alias: string; previousVersion: number }> {
  const name = checkAliasName(input.name);
  const m = await findModule(input.handle);
  const prisma = await db();
  const previousVersion = await prisma.$transaction(async (tx) => {
    const before = await tx.alias.findUnique({
      where: { moduleId_name: { moduleId: m.id, name } },
      include: { version: { select: { number: true } } },
    });
    if (!before) throw new AppError("not_found", `${m.handle} has no alias ${name}`);
    await tx.alias.delete({ where: { id: before.id } });
    await recordAudit(
      {
        actor: input.actor,
        action: "alias.remove",
        targetType: "model",
        target: m.handle,
        ip: input.ip ?? null,
        details: { alias: name, previousVersion: before.version.number },
      },
      tx,
    );
    await emitEvent(
      "alias.moved",
      { handle: m.handle, alias: name, version: null, previousVersion: before.version.number },
      tx,
    );
    return before.version.number;
  });
  forgetServable(m.handle);
  forgetCatalogueCache();
  return { handle: m.handle, alias: name, previousVersion };
}

/** A model's aliases by name, with the status of what each points to. */
export async function listAliases(handle: string): Promise<AliasView[]> {
  const prisma = await db();
  const rows = await prisma.alias.findMany({
    where: { module: { handle: handle.toLowerCase() } },
    include: { version: { select: { number: true, status: true } }, setBy: { select: { email: true } } },
    orderBy: { name: "asc" },
  });
  return rows.map((a) => ({
    name: a.name,
    version: a.version.number,
    status: a.version.status,
    setBy: a.setBy?.email ?? null,
    updatedAt: a.updatedAt,
  }));
}

/** The ids of every version an alias points to (retention never deletes them). */
export async function aliasedVersionIds(): Promise<Set<string>> {
  const prisma = await db();
  const rows = await prisma.alias.findMany({ select: { versionId: true }, distinct: ["versionId"] });
  return new Set(rows.map((r) => r.versionId));
}
