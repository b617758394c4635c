-- The audit log is append-only. Prisma's schema language cannot express triggers, so this one
-- migration is written by hand; it holds no table changes (those come from `npm run db:diff`).
CREATE OR REPLACE FUNCTION "hubkeep_audit_append_only"() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'AuditEvent is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER "AuditEvent_append_only_row"
  BEFORE UPDATE OR DELETE ON "AuditEvent"
  FOR EACH ROW EXECUTE FUNCTION "hubkeep_audit_append_only"();

CREATE TRIGGER "AuditEvent_append_only_truncate"
  BEFORE TRUNCATE ON "AuditEvent"
  FOR EACH STATEMENT EXECUTE FUNCTION "hubkeep_audit_append_only"();
