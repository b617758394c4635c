-- AlterTable
ALTER TABLE "Module" ADD COLUMN     "searchVector" tsvector;

-- CreateIndex
CREATE INDEX "Module_task_idx" ON "Module"("task");

-- CreateIndex
CREATE INDEX "Module_license_idx" ON "Module"("license");

-- CreateIndex
CREATE INDEX "Module_searchVector_idx" ON "Module" USING GIN ("searchVector");
