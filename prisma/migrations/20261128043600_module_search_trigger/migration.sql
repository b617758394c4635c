-- Keeps "Module"."searchVector" up to date. Prisma's schema language cannot express triggers, so
-- this migration is written by hand; the column and its GIN index come from `npm run db:diff`.
-- The 'simple' configuration (no stemming) with prefix queries: "mobilenet" finds
-- mobilenet_v2_100_224, and handles split on / _ . - so their parts are words.
-- Weights: A handle and title, B tags, C task and publisher, D description.
CREATE OR REPLACE FUNCTION "hubkeep_module_search_vector"() RETURNS trigger AS $$
BEGIN
  NEW."searchVector" :=
    setweight(to_tsvector('simple', regexp_replace(coalesce(NEW."handle", ''), '[/_.-]+', ' ', 'g')), 'A') ||
    setweight(to_tsvector('simple', regexp_replace(coalesce(NEW."title", ''), '[/_.-]+', ' ', 'g')), 'A') ||
    setweight(to_tsvector('simple', regexp_replace(array_to_string(NEW."tags", ' '), '[/_.-]+', ' ', 'g')), 'B') ||
    setweight(to_tsvector('simple', coalesce(NEW."task", '') || ' ' || coalesce(NEW."publisher", '')), 'C') ||
    setweight(to_tsvector('simple', left(coalesce(NEW."description", ''), 100000)), 'D');
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER "Module_search_vector"
  BEFORE INSERT OR UPDATE OF "handle", "title", "description", "tags", "task", "publisher" ON "Module"
  FOR EACH ROW EXECUTE FUNCTION "hubkeep_module_search_vector"();

-- Existing rows.
UPDATE "Module" SET "handle" = "handle";
