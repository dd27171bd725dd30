-- The definition of publication $1 in the current database: FOR ALL TABLES, the published
-- operations, publish_via_partition_root, the tables it names (FOR TABLE, as schema.table),
-- and the server version (FOR TABLES IN SCHEMA exists from PostgreSQL 15 on). No row when it
-- does not exist.
SELECT p.puballtables,
       pg_catalog.concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                            CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END),
       p.pubviaroot,
       coalesce((SELECT pg_catalog.array_agg(n.nspname::text || '.' || c.relname::text
                                             ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C")
                 FROM pg_catalog.pg_publication_rel r
                 JOIN pg_catalog.pg_class c ON c.oid = r.prrelid
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE r.prpubid = p.oid), '{}'),
       pg_catalog.current_setting('server_version_num')::int
FROM pg_catalog.pg_publication p
WHERE p.pubname = $1
