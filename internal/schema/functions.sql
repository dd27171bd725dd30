-- Functions, procedures and aggregates of the schema (not those an extension installed), by
-- signature, with their result, language, attributes and a hash of the body. The body is prosrc
-- and probin, or for a SQL-standard body (BEGIN ATOMIC / RETURN, PostgreSQL 14+: prosrc is
-- empty) its deparsed text; an aggregate's definition is in pg_aggregate. Load replaces
-- pg_get_function_sqlbody with NULL before PostgreSQL 14. Deparsing a SQL-standard body waits
-- for a lock on the relations it reads: functions in $2 are left out (see locks.sql).
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
    ('body md5', pg_catalog.md5(coalesce(p.prosrc, '') || '|' || coalesce(p.probin, '')
                                || coalesce('|' || pg_catalog.pg_get_function_sqlbody(p.oid), ''))),
    ('attributes', concat_ws(' ',
        CASE p.provolatile WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END,
        CASE WHEN p.proisstrict THEN 'STRICT' END,
        CASE WHEN p.prosecdef THEN 'SECURITY DEFINER' END,
        CASE p.proparallel WHEN 's' THEN 'PARALLEL SAFE' WHEN 'r' THEN 'PARALLEL RESTRICTED' END,
        CASE WHEN p.proleakproof THEN 'LEAKPROOF' END)),
    ('settings', pg_catalog.array_to_string(p.proconfig, ', ')),
    ('aggregate', (SELECT pg_catalog.concat_ws(' ',
        CASE a.aggkind WHEN 'o' THEN 'ORDERED SET' WHEN 'h' THEN 'HYPOTHETICAL' END,
        CASE WHEN a.aggnumdirectargs > 0 THEN 'DIRECT ARGS ' || a.aggnumdirectargs END,
        'SFUNC ' || a.aggtransfn::oid::pg_catalog.regprocedure::text,
        'STYPE ' || pg_catalog.format_type(a.aggtranstype, NULL),
        CASE WHEN a.aggtransspace > 0 THEN 'SSPACE ' || a.aggtransspace END,
        CASE WHEN a.aggfinalfn::oid <> 0 THEN 'FINALFUNC ' || a.aggfinalfn::oid::pg_catalog.regprocedure::text
                                            || CASE WHEN a.aggfinalextra THEN ' EXTRA' ELSE '' END
                                            || ' MODIFY ' || a.aggfinalmodify::text END,
        CASE WHEN a.aggcombinefn::oid <> 0 THEN 'COMBINEFUNC ' || a.aggcombinefn::oid::pg_catalog.regprocedure::text END,
        CASE WHEN a.aggserialfn::oid <> 0 THEN 'SERIALFUNC ' || a.aggserialfn::oid::pg_catalog.regprocedure::text END,
        CASE WHEN a.aggdeserialfn::oid <> 0 THEN 'DESERIALFUNC ' || a.aggdeserialfn::oid::pg_catalog.regprocedure::text END,
        'INITCOND ' || a.agginitval,
        CASE WHEN a.aggmtransfn::oid <> 0 THEN 'MSFUNC ' || a.aggmtransfn::oid::pg_catalog.regprocedure::text
                                             || ' MINVFUNC ' || a.aggminvtransfn::oid::pg_catalog.regprocedure::text
                                             || ' MSTYPE ' || pg_catalog.format_type(a.aggmtranstype, NULL) END,
        CASE WHEN a.aggmtransspace > 0 THEN 'MSSPACE ' || a.aggmtransspace END,
        CASE WHEN a.aggmfinalfn::oid <> 0 THEN 'MFINALFUNC ' || a.aggmfinalfn::oid::pg_catalog.regprocedure::text
                                             || CASE WHEN a.aggmfinalextra THEN ' EXTRA' ELSE '' END
                                             || ' MODIFY ' || a.aggmfinalmodify::text END,
        'MINITCOND ' || a.aggminitval,
        CASE WHEN a.aggsortop::oid <> 0 THEN 'SORTOP ' || a.aggsortop::oid::pg_catalog.regoperator::text END)
      FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid))
) AS v(prop, value)
WHERE n.nspname = $1
  AND p.oid <> ALL ($2::pg_catalog.oid[])
  AND v.value IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e')
