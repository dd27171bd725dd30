-- Row-level security policies (as pg_policies shows them). Deparsing a policy's expressions
-- waits for a lock on its table and the tables it reads: tables in $2 are left out (see
-- locks.sql).
SELECT 'table',
       c.relname::text,
       'policy ' || pg_catalog.quote_ident(pol.polname),
       pg_catalog.format('AS %s FOR %s TO %s USING (%s) WITH CHECK (%s)',
                         CASE WHEN pol.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                         CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                         WHEN 'd' THEN 'DELETE' WHEN '*' THEN 'ALL' END,
                         CASE WHEN pol.polroles = '{0}'::pg_catalog.oid[] THEN 'public'
                              ELSE pg_catalog.array_to_string(ARRAY(SELECT r.rolname FROM pg_catalog.pg_roles r
                                                                    WHERE r.oid = ANY (pol.polroles) ORDER BY r.rolname), ', ') END,
                         coalesce(pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), ''),
                         coalesce(pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid), ''))
FROM pg_catalog.pg_policy pol
JOIN pg_catalog.pg_class c ON c.oid = pol.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.oid <> ALL ($2::pg_catalog.oid[])
