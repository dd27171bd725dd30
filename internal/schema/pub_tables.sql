-- Member tables of publication $1 with the published columns (all columns when the publication
-- has no column list for the table) and the row filter (NULL when none).
SELECT t.schemaname::text, t.tablename::text, coalesce(t.attnames::text[], '{}'), t.rowfilter
FROM pg_catalog.pg_publication_tables t
WHERE t.pubname = $1
