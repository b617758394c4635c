// Catalogue queries shared by the home page and GET /api/v1/models.
import { db } from "../db/client.ts";

export type CatalogueItem = {
  handle: string;
  title: string | null;
  publisher: string;
  task: string | null;
  latestVersion: number | null;
};

/** Modules with at least one approved version, most recently updated first. */
export async function listCatalogue(opts: { page: number; pageSize: number }): Promise<{ items: CatalogueItem[]; total: number }> {
  const prisma = await db();
  const where = { versions: { some: { status: "approved" as const } } };
  const [rows, total] = await Promise.all([
    prisma.module.findMany({
      where,
      orderBy: { updatedAt: "desc" },
      skip: (opts.page - 1) * opts.pageSize,
      take: opts.pageSize,
      include: { versions: { where: { status: "approved" }, orderBy: { number: "desc" }, take: 1, select: { number: true } } },
    }),
    prisma.module.count({ where }),
  ]);
  return {
    items: rows.map((m) => ({ handle: m.handle, title: m.title, publisher: m.publisher, task: m.task, latestVersion: m.versions[0]?.number ?? null })),
    total,
  };
}

/** A model page: the module, its versions visible to the caller, and their download totals. */
export async function getModelPage(handle: string, opts: { includeUnapproved: boolean }) {
  const prisma = await db();
  const m = await prisma.module.findUnique({
    where: { handle: handle.toLowerCase() },
    include: {
      versions: {
        where: opts.includeUnapproved ? {} : { status: "approved" },
        orderBy: { number: "desc" },
        select: { id: true, number: true, status: true, format: true, size: true, createdAt: true, approvedAt: true },
      },
    },
  });
  if (!m || m.versions.length === 0) return null;
  const counts = await prisma.downloadCount.groupBy({ by: ["versionId"], where: { versionId: { in: m.versions.map((v) => v.id) } }, _sum: { count: true } });
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
