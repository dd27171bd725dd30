-- The settings `pgparity cluster check` reports for one node: what replication and repair need.
SELECT pg_catalog.current_setting('server_version'),
       pg_catalog.current_setting('server_version_num')::int,
       pg_catalog.current_setting('wal_level'),
       pg_catalog.current_setting('track_commit_timestamp')::bool,
       pg_catalog.current_setting('is_superuser')::bool
