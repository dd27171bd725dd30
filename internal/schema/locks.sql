-- What of schema $1 cannot be read now because of a lock. The deparse functions
-- (pg_get_expr, pg_get_constraintdef, pg_get_indexdef, pg_get_viewdef, pg_get_functiondef …)
-- take an ACCESS SHARE lock on every relation they describe or read, and so wait while another
-- session holds or awaits an ACCESS EXCLUSIVE lock on it (ALTER TABLE, VACUUM FULL, LOCK
-- TABLE); reading a sequence's state or a table's largest key waits the same way. One row per
-- object and relation it needs that such a lock covers: (kind, name, object oid, 'class' or
-- 'proc' for the catalog of that oid, what is read — 'structure' or 'largest key' —, the locked
-- relation's oid, schema and name). The caller confirms each lock by waiting lock_timeout for it.
WITH locked AS (
    SELECT DISTINCT l.relation AS oid
    FROM pg_catalog.pg_locks l
    WHERE l.locktype = 'relation'
      AND l.mode = 'AccessExclusiveLock'
      AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
      AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid() -- NULL: a prepared transaction
),
needs (kind, name, objoid, catalog, what, relid) AS (
    -- a relation of the schema: itself
    SELECT CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 'table' WHEN c.relkind IN ('v', 'm') THEN 'view' ELSE 'sequence' END,
           c.relname::text, c.oid, 'class', 'structure', c.oid
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
    UNION ALL
    -- a view: the relations its query reads
    SELECT 'view', v.relname::text, v.oid, 'class', 'structure', d.refobjid
    FROM pg_catalog.pg_class v
    JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace
    JOIN pg_catalog.pg_rewrite r ON r.ev_class = v.oid
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
                               AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
    WHERE n.nspname = $1 AND v.relkind IN ('v', 'm')
    UNION ALL
    -- a table: the relations its policies read
    SELECT 'table', c.relname::text, c.oid, 'class', 'structure', d.refobjid
    FROM pg_catalog.pg_policy pol
    JOIN pg_catalog.pg_class c ON c.oid = pol.polrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND d.objid = pol.oid
                               AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
    WHERE n.nspname = $1
    UNION ALL
    -- a function with a SQL-standard body: the relations the body reads
    SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
           p.proname::text || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
           p.oid, 'proc', 'structure', d.refobjid
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid
                               AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
    WHERE n.nspname = $1
    UNION ALL
    -- a publication: the tables of the schema whose row filter it holds
    SELECT 'publication', p.pubname::text, p.oid, 'publication', 'structure', r.prrelid
    FROM pg_catalog.pg_publication p
    JOIN pg_catalog.pg_publication_rel r ON r.prpubid = p.oid
    JOIN pg_catalog.pg_class c ON c.oid = r.prrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND r.prqual IS NOT NULL -- Load turns this into false before PostgreSQL 15
    UNION ALL
    -- a sequence: the column it feeds, whose largest key is read
    SELECT 'sequence', s.relname::text, s.oid, 'class', 'largest key', d.refobjid
    FROM pg_catalog.pg_class s
    JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = s.oid
                               AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                               AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
    WHERE n.nspname = $1 AND s.relkind = 'S'
)
SELECT DISTINCT nd.kind, nd.name, nd.objoid, nd.catalog, nd.what, lc.oid, ln.nspname::text, lc.relname::text
FROM needs nd
JOIN locked l ON l.oid = nd.relid
JOIN pg_catalog.pg_class lc ON lc.oid = l.oid
JOIN pg_catalog.pg_namespace ln ON ln.oid = lc.relnamespace
