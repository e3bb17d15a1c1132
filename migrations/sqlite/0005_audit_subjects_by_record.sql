-- The people each audit record names, found by the record (as PostgreSQL's migration 0007 does):
-- the table's key leads with the person, so `desist audit`, the admin's auditLog and a backup,
-- which read records' people by the records' ids, scanned every row ever audited (968,080 at
-- national scale after one bench run; a backup held them all in memory). A read request adds
-- one index entry per person it showed.
CREATE INDEX audit_subjects_audit_id ON audit_subjects (audit_id);
