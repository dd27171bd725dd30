-- Row-level security policies.
SELECT 'table',
       p.tablename::text,
       'policy ' || pg_catalog.quote_ident(p.policyname),
       pg_catalog.format('AS %s FOR %s TO %s USING (%s) WITH CHECK (%s)', p.permissive, p.cmd,
                         pg_catalog.array_to_string(p.roles, ', '), coalesce(p.qual, ''), coalesce(p.with_check, ''))
FROM pg_catalog.pg_policies p
WHERE p.schemaname = $1
