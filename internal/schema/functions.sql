-- Functions, procedures and aggregates of the schema (not those an extension installed), by
-- signature, with their result, language, attributes and a hash of the body.
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
       p.proname::text || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       v.prop,
       v.value
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
CROSS JOIN LATERAL (VALUES
    ('returns', coalesce(pg_catalog.pg_get_function_result(p.oid), '')),
    ('language', l.lanname::text),
    ('body md5', pg_catalog.md5(coalesce(p.prosrc, '') || '|' || coalesce(p.probin, ''))),
    ('attributes', concat_ws(' ',
        CASE p.provolatile WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END,
        CASE WHEN p.proisstrict THEN 'STRICT' END,
        CASE WHEN p.prosecdef THEN 'SECURITY DEFINER' END,
        CASE p.proparallel WHEN 's' THEN 'PARALLEL SAFE' WHEN 'r' THEN 'PARALLEL RESTRICTED' END,
        CASE WHEN p.proleakproof THEN 'LEAKPROOF' END)),
    ('settings', pg_catalog.array_to_string(p.proconfig, ', '))
) AS v(prop, value)
WHERE n.nspname = $1
  AND v.value IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e')
