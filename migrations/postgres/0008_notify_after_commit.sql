-- Events no longer notify from inside their own transaction: a notifying transaction holds
-- PostgreSQL's one notification lock until its commit is on disk, which made concurrent
-- commands commit one at a time. The writer notifies after its commit instead
-- (CommitNotifier in store/src/db.rs; docs/architecture.md).
DROP TRIGGER events_notify ON events;
DROP FUNCTION notify_events();
