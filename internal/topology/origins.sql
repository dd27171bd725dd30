-- Progress of replication origins: the remote commit position applied up to, by origin name.
SELECT o.external_id::text, o.remote_lsn::text
FROM pg_catalog.pg_replication_origin_status o
WHERE o.external_id IS NOT NULL
