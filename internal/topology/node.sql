-- The node's version, its current WAL position (the replay position on a standby) and database.
SELECT pg_catalog.current_setting('server_version_num')::int,
       (CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
             ELSE pg_catalog.pg_current_wal_lsn() END)::text,
       pg_catalog.current_database()::text
