-- The origin setting of the current database's subscriptions (PostgreSQL 16+; before, every
-- subscription applies changes of any origin).
SELECT s.subname::text, s.suborigin::text
FROM pg_catalog.pg_subscription s
WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
