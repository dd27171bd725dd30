-- Table constraints (primary key, unique, check, foreign key, exclusion) as (kind, name,
-- property, value). The primary key is one property whatever its name, so that a renamed key
-- shows as a changed value rather than as two unrelated constraints. NOT NULL is a column
-- property (contype 'n' in PostgreSQL 18+). Deparsing waits for a lock on the table: tables in
-- $2 are left out (see locks.sql).
SELECT 'table',
       c.relname::text,
       CASE WHEN k.contype = 'p' THEN 'primary key' ELSE 'constraint ' || pg_catalog.quote_ident(k.conname) END,
       CASE WHEN k.contype = 'p' THEN pg_catalog.quote_ident(k.conname) || ' ' ELSE '' END
         || pg_catalog.pg_get_constraintdef(k.oid)
         || CASE WHEN NOT k.convalidated THEN ' (not validated)' ELSE '' END
FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND k.contype IN ('p', 'u', 'c', 'f', 'x') AND c.oid <> ALL ($2::pg_catalog.oid[])
