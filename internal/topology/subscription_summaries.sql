-- Subscriptions of the current database. pg_subscription is shared by every database of the
-- server, and only its public columns are read, so that non-superusers can run it where allowed.
SELECT s.subname, s.subenabled
FROM pg_catalog.pg_subscription s
WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
ORDER BY s.subname COLLATE "C"
