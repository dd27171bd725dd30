-- Publications of the current database with their definition and member tables (schema.table,
-- with column list and row filter where set).
SELECT p.pubname::text,
       p.puballtables,
       pg_catalog.concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                            CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END),
       p.pubviaroot,
       coalesce((SELECT pg_catalog.array_agg(t.schemaname::text || '.' || t.tablename::text
                                             ORDER BY t.schemaname COLLATE "C", t.tablename COLLATE "C")
                 FROM pg_catalog.pg_publication_tables t WHERE t.pubname = p.pubname), '{}')
FROM pg_catalog.pg_publication p
ORDER BY p.pubname COLLATE "C"
