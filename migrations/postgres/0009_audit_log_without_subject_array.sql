-- The audit's old array of subjects: 0006 copied it into audit_subjects, and since then nothing
-- writes or reads it. Every record still put its empty array into the GIN index, and a reader
-- of the audit table (SQL, BI) would find a column that is always empty for new records.
-- Dropping a column only marks it dropped, so this is quick on a large log.
DROP INDEX audit_log_subjects;
ALTER TABLE audit_log DROP COLUMN subject_ids;
