-- Member tables of every publication of the current database, with the published columns (all
-- columns when the publication has no column list) and the row filter (NULL when none).
SELECT t.pubname::text, t.schemaname::text, t.tablename::text, coalesce(t.attnames::text[], '{}'), t.rowfilter
FROM pg_catalog.pg_publication_tables t
ORDER BY t.pubname COLLATE "C", t.schemaname COLLATE "C", t.tablename COLLATE "C"
