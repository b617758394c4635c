// Models (the Module table): one model by handle, with the versions a caller may see, its catalogue
// metadata and who owns it. Shared by the model page, GET/PATCH /api/v1/models/{handle}.
import { listAliases } from "./aliases.ts";
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "./audit.ts";
import type { Principal } from "../auth/principal.ts";
import { canReadUnapprovedIn } from "../auth/permissions.ts";
import { forgetCatalogueCache } from "./catalogue.ts";

/**
 * A module with the versions a caller may see, newest first (approved only, unless
 * `includeUnapproved`); null when there is no such module or none of its versions is visible, so a
 * hidden model reads exactly like a missing one. The model page and the model document both read it.
 */
async function findVisibleModel(handle: string, includeUnapproved: boolean) {
  const prisma = await db();
  const m = await prisma.module.findUnique({
    where: { handle: handle.toLowerCase() },
    include: {
      versions: {
        where: includeUnapproved ? {} : { status: "approved" },
        orderBy: { number: "desc" },
        select: {
          id: true,
          number: true,
          status: true,
          format: true,
          digest: true,
          size: true,
          createdAt: true,
          approvedAt: true,
        },
      },
    },
  });
  return m && m.versions.length > 0 ? m : null;
}

/** A model page: the module, its versions visible to the caller, and their download totals. */
export async function getModelPage(handle: string, opts: { includeUnapproved: boolean }) {
  const prisma = await db();
  const m = await findVisibleModel(handle, opts.includeUnapproved);
  if (!m) return null;
  const counts = await prisma.downloadCount.groupBy({
    by: ["versionId"],
    where: { versionId: { in: m.versions.map((v) => v.id) } },
    _sum: { count: true },
  });
  const downloads = new Map(counts.map((c) => [c.versionId, c._sum.count ?? 0]));
  return {
    handle: m.handle,
    title: m.title,
    description: m.description,
    publisher: m.publisher,
    task: m.task,
    license: m.license,
    versions: m.versions.map(({ id, ...v }) => ({ ...v, downloads: downloads.get(id) ?? 0 })),
  };
}

/**
 * The model document (GET /api/v1/models/{handle}): metadata and the versions the caller may see,
 * newest first: approved ones, and the others too for whoever may read a version that is not
 * approved (canReadUnapprovedIn: admins, publishers in their namespace), as the version document
 * decides. Null when no version is visible (or no such model), so a hidden model answers exactly
 * like a missing one. The caller has already passed canReadApproved.
 */
export async function getModelDocument(input: { handle: string; principal: Principal }) {
  const handle = input.handle.toLowerCase();
  const m = await findVisibleModel(handle, canReadUnapprovedIn(input.principal, handle));
  if (!m) return null;
  return {
    handle: m.handle,
    // A model's format is its newest visible version's (versions of one handle share a format in practice).
    format: m.versions[0]!.format,
    title: m.title,
    description: m.description,
    task: m.task,
    tags: m.tags,
    license: m.license,
    ...(m.source === "upstream" && m.upstreamUrl ? { source: { url: m.upstreamUrl } } : {}),
    // Aliases whose version is approved (an alias left on a withdrawn version serves nothing).
    aliases: Object.fromEntries(
      (await listAliases(handle)).filter((a) => a.status === "approved").map((a) => [a.name, a.version]),
    ) as Record<string, number>,
    versions: m.versions.map((v) => ({
      version: v.number,
      status: v.status,
      digest: v.digest,
      size: v.size,
      createdAt: v.createdAt,
    })),
  };
}

export type ModelMetadataPatch = {
  title?: string | null;
  description?: string | null;
  task?: string | null;
  tags?: string[];
  license?: string | null;
};

/** Sets a model's catalogue metadata (PATCH /api/v1/models/{handle}); audited with the fields changed. */
export async function updateModelMetadata(input: {
  handle: string;
  patch: ModelMetadataPatch;
  actor: Principal;
  ip?: string | null;
}) {
  const prisma = await db();
  const handle = input.handle.toLowerCase();
  const m = await prisma.module.findUnique({ where: { handle } });
  if (!m) throw new AppError("not_found", `no model ${handle}`);
  const data = Object.fromEntries(Object.entries(input.patch).filter(([, v]) => v !== undefined));
  if (Object.keys(data).length === 0)
    throw new AppError(
      "unprocessable_entity",
      "nothing to change: send at least one of title, description, task, tags, license",
    );
  if (data.tags) data.tags = [...new Set((data.tags as string[]).map((t) => t.trim().toLowerCase()))];
  const updated = await prisma.module.update({ where: { id: m.id }, data });
  forgetCatalogueCache();
  await recordAudit({
    actor: input.actor,
    action: "model.metadata",
    targetType: "module",
    target: handle,
    ip: input.ip,
    details: { fields: Object.keys(data) },
  });
  return {
    handle: updated.handle,
    title: updated.title,
    description: updated.description,
    task: updated.task,
    tags: updated.tags,
    license: updated.license,
    publisher: updated.publisher,
    source: updated.source,
  };
}

/** Who owns a model, for permission checks: its source (uploads are publisher-owned). */
export async function modelSource(handle: string): Promise<"upstream" | "upload" | null> {
  const prisma = await db();
  const m = await prisma.module.findUnique({ where: { handle: handle.toLowerCase() }, select: { source: true } });
  return m?.source ?? null;
}
