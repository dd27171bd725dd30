-- Connection strings of the current database's subscriptions (superusers only: they may hold a
-- password; the caller keeps host, port and dbname and drops the rest).
SELECT s.subname::text, s.subconninfo
FROM pg_catalog.pg_subscription s
WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
