-- Subscriptions of the current database that subscribe to publication $1.
SELECT s.subname::text
FROM pg_catalog.pg_subscription s
WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
  AND $1 = ANY (s.subpublications)
ORDER BY s.subname COLLATE "C"
