-- Member tables of every publication of the current database (before PostgreSQL 15: no column
-- lists, no row filters), read like publication_tables.sql.
WITH t AS MATERIALIZED (
  SELECT p.pubname, g.relid
  FROM pg_catalog.pg_publication p
  CROSS JOIN LATERAL pg_catalog.pg_get_publication_tables(p.pubname::text) g
)
SELECT t.pubname::text, n.nspname::text, c.relname::text, '{}'::text[], NULL::text
FROM t
JOIN pg_catalog.pg_class c ON c.oid = t.relid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
ORDER BY t.pubname COLLATE "C", n.nspname COLLATE "C", c.relname COLLATE "C"
