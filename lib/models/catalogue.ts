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
