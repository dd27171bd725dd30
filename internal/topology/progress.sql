-- One subscription's apply progress: enabled, apply worker, the publisher position applied up to
-- (replication origin pg_<oid>), the last position the publisher's walsender reported, and the
-- error counters. Superusers only (replication origin status).
SELECT s.subenabled,
       w.pid,
       o.remote_lsn::text,
       w.latest_end_lsn::text,
       coalesce(st.apply_error_count, 0),
       coalesce(st.sync_error_count, 0),
       w.last_msg_receipt_time
FROM pg_catalog.pg_subscription s
LEFT JOIN pg_catalog.pg_stat_subscription w ON w.subid = s.oid AND w.relid IS NULL
LEFT JOIN pg_catalog.pg_stat_subscription_stats st ON st.subid = s.oid
LEFT JOIN pg_catalog.pg_replication_origin_status o ON o.external_id = 'pg_' || s.oid::text
WHERE s.subname = $1
  AND s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
