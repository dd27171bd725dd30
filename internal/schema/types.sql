-- Composite types of the schema (CREATE TYPE … AS (…)) with their attributes in order: name,
-- type with typmod, and the collation when it is not the type's default.
SELECT 'type',
       t.typname::text,
       'attributes',
       coalesce((SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname) || ' '
                           || pg_catalog.format_type(a.atttypid, a.atttypmod)
                           || CASE WHEN a.attcollation <> at.typcollation
                                   THEN ' COLLATE ' || (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                                                        FROM pg_catalog.pg_collation co
                                                        JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                                                        WHERE co.oid = a.attcollation)
                                   ELSE '' END,
                           ', ' ORDER BY a.attnum)
                 FROM pg_catalog.pg_attribute a
                 JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
                 WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '(none)')
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
WHERE n.nspname = $1 AND t.typtype = 'c' AND c.relkind = 'c'
