-- Definition texts, shown as a unified diff where they differ: each view's query
-- (pg_get_viewdef; Load derives the view's "definition md5" from it) and each function's or
-- procedure's CREATE statement (pg_get_functiondef; an aggregate has none), as (kind, name,
-- property the text explains, text). Both deparse functions wait for a lock on every relation
-- the definition reads: views in $2 and functions in $3 are left out (see locks.sql).
SELECT 'view',
       c.relname::text,
       'definition md5',
       pg_catalog.pg_get_viewdef(c.oid)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('v', 'm') AND c.oid <> ALL ($2::pg_catalog.oid[])
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
       p.proname::text || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       'body md5',
       pg_catalog.pg_get_functiondef(p.oid)
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1
  AND p.prokind IN ('f', 'p', 'w')
  AND p.oid <> ALL ($3::pg_catalog.oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e')
