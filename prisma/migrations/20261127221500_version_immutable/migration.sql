-- A version's bytes and file list never change once it exists. Prisma's schema language cannot
-- express triggers, so this migration is written by hand; it holds no table changes.
CREATE OR REPLACE FUNCTION "hubkeep_version_immutable"() RETURNS trigger AS $$
BEGIN
  IF NEW."digest" IS DISTINCT FROM OLD."digest" OR NEW."size" IS DISTINCT FROM OLD."size"
     OR NEW."moduleId" IS DISTINCT FROM OLD."moduleId" OR NEW."number" IS DISTINCT FROM OLD."number"
     OR NEW."format" IS DISTINCT FROM OLD."format" THEN
    RAISE EXCEPTION 'Version % is immutable: its digest, size, module, number and format cannot change', OLD."id"
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER "Version_immutable_bytes"
  BEFORE UPDATE ON "Version"
  FOR EACH ROW EXECUTE FUNCTION "hubkeep_version_immutable"();

CREATE OR REPLACE FUNCTION "hubkeep_version_file_immutable"() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'VersionFile rows are immutable: a version''s file list cannot change'
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER "VersionFile_immutable"
  BEFORE UPDATE ON "VersionFile"
  FOR EACH ROW EXECUTE FUNCTION "hubkeep_version_file_immutable"();
