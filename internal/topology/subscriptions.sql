-- Subscriptions of the current database with their settings, error counters, the apply
-- worker's progress and the tables they hold with their sync state. Never the connection
-- string: it may hold a password.
SELECT s.subname::text,
       s.subenabled,
       coalesce(s.subslotname::text, ''), -- NULL after SET (slot_name = NONE)
       s.substream::text,
       s.subdisableonerr,
       s.subpublications::text[],
       coalesce(st.apply_error_count, 0),
       coalesce(st.sync_error_count, 0),
       w.received_lsn::text,
       w.latest_end_lsn::text,
       w.last_msg_receipt_time,
       coalesce((SELECT pg_catalog.array_agg(n.nspname::text || '.' || c.relname::text || ':' || r.srsubstate::text
                                             ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C")
                 FROM pg_catalog.pg_subscription_rel r
                 JOIN pg_catalog.pg_class c ON c.oid = r.srrelid
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE r.srsubid = s.oid), '{}'),
       s.oid,
       w.pid
FROM pg_catalog.pg_subscription s
LEFT JOIN pg_catalog.pg_stat_subscription_stats st ON st.subid = s.oid
LEFT JOIN pg_catalog.pg_stat_subscription w ON w.subid = s.oid AND w.relid IS NULL
WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
ORDER BY s.subname COLLATE "C"
