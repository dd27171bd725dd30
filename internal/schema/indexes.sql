-- Indexes that do not back a constraint (those are compared as constraints), as (kind, name,
-- property, value) with the index definition. Deparsing waits for a lock on the table: tables in
-- $2 are left out (see locks.sql).
SELECT 'table',
       c.relname::text,
       'index ' || pg_catalog.quote_ident(ic.relname),
       pg_catalog.pg_get_indexdef(i.indexrelid)
         || CASE WHEN NOT i.indisvalid THEN ' (invalid)' ELSE '' END
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.oid <> ALL ($2::pg_catalog.oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
