-- The definition of publication $1 in the current database: FOR ALL TABLES, the published
-- operations and publish_via_partition_root. No row when it does not exist.
SELECT p.puballtables,
       pg_catalog.concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                            CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END),
       p.pubviaroot
FROM pg_catalog.pg_publication p
WHERE p.pubname = $1
