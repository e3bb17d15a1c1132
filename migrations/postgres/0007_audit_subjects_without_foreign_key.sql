-- Every read request writes a row here per subject it showed (forty for a caseload), and each
-- row's foreign-key check is a lookup in audit_log planned once per connection: planned while
-- audit_log was small, it stays a scan of the whole table, so a caseload grew slower with every
-- request ever audited (docs/benchmarks.md). The rows are written with their audit_log row, in
-- the same transaction, by the one function that writes the audit, and neither table can be
-- changed or emptied (the triggers of 0004 and 0006): the key guards nothing that can happen.
ALTER TABLE audit_subjects DROP CONSTRAINT audit_subjects_audit_id_fkey;
CREATE INDEX audit_subjects_audit_id ON audit_subjects (audit_id);
