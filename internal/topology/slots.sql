-- Replication slots of the current database (and physical slots), with the WAL they retain and
-- how far behind the consumer's confirmed position is, in bytes and (while streaming) in time,
-- and the walsender's application_name (a subscription's name unless its connection sets one).
SELECT s.slot_name::text,
       s.slot_type::text,
       coalesce(s.plugin::text, ''),
       s.active,
       coalesce(s.wal_status, ''),
       s.safe_wal_size,
       pg_catalog.pg_wal_lsn_diff(cur.lsn, s.restart_lsn)::int8,
       pg_catalog.pg_wal_lsn_diff(cur.lsn, s.confirmed_flush_lsn)::int8,
       extract(epoch FROM r.replay_lag)::float8,
       coalesce(r.application_name::text, '')
FROM pg_catalog.pg_replication_slots s
CROSS JOIN (SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
                        ELSE pg_catalog.pg_current_wal_lsn() END AS lsn) cur
LEFT JOIN pg_catalog.pg_stat_replication r ON r.pid = s.active_pid
WHERE s.database IS NULL OR s.database = pg_catalog.current_database()
ORDER BY s.slot_name COLLATE "C"
