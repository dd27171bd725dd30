-- Tables the current database's subscriptions to publication $1 hold, with the subscription,
-- the table's sync state, and whether the subscription also subscribes to other publications
-- (pg_subscription_rel does not say which publication a table came from).
SELECT s.subname::text, n.nspname::text, c.relname::text, r.srsubstate::text,
       pg_catalog.cardinality(s.subpublications) > 1
FROM pg_catalog.pg_subscription s
JOIN pg_catalog.pg_subscription_rel r ON r.srsubid = s.oid
JOIN pg_catalog.pg_class c ON c.oid = r.srrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
  AND $1 = ANY (s.subpublications)
