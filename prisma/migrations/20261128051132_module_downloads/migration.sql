-- AlterTable
ALTER TABLE "Module" ADD COLUMN     "downloads" BIGINT NOT NULL DEFAULT 0;

-- CreateIndex
CREATE INDEX "Module_downloads_idx" ON "Module"("downloads");

-- CreateIndex
CREATE INDEX "Module_updatedAt_idx" ON "Module"("updatedAt");

-- Existing download counts.
UPDATE "Module" m SET downloads = t.total
FROM (SELECT v."moduleId", sum(d.count)::bigint AS total FROM "DownloadCount" d JOIN "Version" v ON v.id = d."versionId" GROUP BY v."moduleId") t
WHERE t."moduleId" = m.id;
