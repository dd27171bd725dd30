-- Tables the current database's subscriptions to publication $1 hold, with the subscription and
-- the table's sync state.
SELECT s.subname::text, n.nspname::text, c.relname::text, r.srsubstate::text
FROM pg_catalog.pg_subscription s
JOIN pg_catalog.pg_subscription_rel r ON r.srsubid = s.oid
JOIN pg_catalog.pg_class c ON c.oid = r.srrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
  AND $1 = ANY (s.subpublications)
