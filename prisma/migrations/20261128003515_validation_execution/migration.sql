-- AlterTable
ALTER TABLE "ValidationRun" ADD COLUMN     "execution" JSONB;
