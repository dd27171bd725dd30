-- Relations of the schema and their relation-level properties, as (kind, name, property, value)
-- rows. A property that does not apply to a relation kind is NULL and left out. A view's
-- definition md5 comes from definitions.sql. Deparsing a partition key or bound waits for a lock
-- on the table: relations in $2 are left out (see locks.sql).
SELECT CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 'table'
            WHEN c.relkind IN ('v', 'm') THEN 'view'
            ELSE 'sequence' END,
       c.relname::text,
       p.prop,
       p.value
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (VALUES
    ('kind', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                            WHEN 'f' THEN 'foreign table' WHEN 'v' THEN 'view'
                            WHEN 'm' THEN 'materialized view' ELSE 'sequence' END),
    ('row level security',
        CASE WHEN c.relkind IN ('r', 'p') THEN
            CASE WHEN c.relrowsecurity AND c.relforcerowsecurity THEN 'enabled, forced'
                 WHEN c.relrowsecurity THEN 'enabled'
                 WHEN c.relforcerowsecurity THEN 'disabled, forced'
                 ELSE 'disabled' END END),
    ('replica identity',
        CASE WHEN c.relkind IN ('r', 'p') THEN
            CASE c.relreplident WHEN 'd' THEN 'default' WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full'
                 ELSE 'index ' || coalesce((SELECT pg_catalog.quote_ident(ic.relname)
                                            FROM pg_catalog.pg_index i
                                            JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                                            WHERE i.indrelid = c.oid AND i.indisreplident), '?') END END),
    ('partition key', CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END),
    ('partition of',
        CASE WHEN c.relispartition THEN
            (SELECT pc.oid::regclass::text || ' ' || pg_catalog.pg_get_expr(c.relpartbound, c.oid)
             FROM pg_catalog.pg_inherits inh
             JOIN pg_catalog.pg_class pc ON pc.oid = inh.inhparent
             WHERE inh.inhrelid = c.oid) END),
    ('definition',
        CASE WHEN c.relkind = 'S' THEN
            (SELECT pg_catalog.format('AS %s START %s INCREMENT %s MINVALUE %s MAXVALUE %s CACHE %s%s',
                        pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
                        s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END)
             FROM pg_catalog.pg_sequence s WHERE s.seqrelid = c.oid) END)
) AS p(prop, value)
WHERE n.nspname = $1
  AND c.oid <> ALL ($2::pg_catalog.oid[])
  AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
  AND p.value IS NOT NULL
