-- Publications of the current database with their definition.
SELECT p.pubname::text,
       p.puballtables,
       pg_catalog.concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                            CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END),
       p.pubviaroot
FROM pg_catalog.pg_publication p
ORDER BY p.pubname COLLATE "C"
