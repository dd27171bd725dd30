-- Member tables of every publication of the current database (before PostgreSQL 15: no column
-- lists, no row filters).
SELECT t.pubname::text, t.schemaname::text, t.tablename::text, '{}'::text[], NULL::text
FROM pg_catalog.pg_publication_tables t
ORDER BY t.pubname COLLATE "C", t.schemaname COLLATE "C", t.tablename COLLATE "C"
