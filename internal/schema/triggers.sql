-- User triggers with their enabled state: for logical replication it matters whether a trigger
-- fires on the subscriber's apply worker (ENABLE REPLICA / ALWAYS) or not (ENABLE = origin only).
-- Deparsing waits for a lock on the table: tables in $2 are left out (see locks.sql).
SELECT 'table',
       c.relname::text,
       'trigger ' || pg_catalog.quote_ident(t.tgname),
       pg_catalog.pg_get_triggerdef(t.oid)
         || CASE t.tgenabled WHEN 'O' THEN ' [enabled]' WHEN 'D' THEN ' [disabled]'
                             WHEN 'R' THEN ' [enabled replica]' WHEN 'A' THEN ' [enabled always]' END
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND NOT t.tgisinternal AND c.oid <> ALL ($2::pg_catalog.oid[])
