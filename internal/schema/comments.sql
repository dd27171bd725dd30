-- Comments (COMMENT ON) of the schema's tables, views, sequences and their columns, of its
-- functions, procedures and aggregates (not those an extension installed), and of its enums,
-- domains and composite types (and their attributes), as quoted literals.
SELECT CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 'table'
            WHEN c.relkind IN ('v', 'm') THEN 'view'
            WHEN c.relkind = 'c' THEN 'type'
            ELSE 'sequence' END,
       c.relname::text,
       CASE WHEN d.objsubid = 0 THEN 'comment'
            ELSE 'comment on column ' || pg_catalog.quote_ident(a.attname) END,
       pg_catalog.quote_literal(d.description)
FROM pg_catalog.pg_description d
JOIN pg_catalog.pg_class c ON c.oid = d.objoid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
WHERE d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
  AND n.nspname = $1
  AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'c')
  AND (d.objsubid = 0 OR (a.attnum IS NOT NULL AND NOT a.attisdropped))
  -- a composite type's own comment is on its pg_type row
  AND NOT (c.relkind = 'c' AND d.objsubid = 0)
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
       p.proname::text || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       'comment',
       pg_catalog.quote_literal(d.description)
FROM pg_catalog.pg_description d
JOIN pg_catalog.pg_proc p ON p.oid = d.objoid
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE d.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass
  AND n.nspname = $1
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                  WHERE e.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND e.objid = p.oid AND e.deptype = 'e')
UNION ALL
SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' ELSE 'type' END,
       t.typname::text,
       'comment',
       pg_catalog.quote_literal(d.description)
FROM pg_catalog.pg_description d
JOIN pg_catalog.pg_type t ON t.oid = d.objoid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
WHERE d.classoid = 'pg_catalog.pg_type'::pg_catalog.regclass
  AND d.objsubid = 0
  AND n.nspname = $1
  AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND c.relkind = 'c'))
