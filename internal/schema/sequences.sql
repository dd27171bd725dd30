-- Sequences of the schema with their current state and the column that owns them (OWNED BY, a
-- serial column, or an identity column), if any. last_value is NULL until nextval or setval was
-- called on this node. The last column says whether the owning column holds numbers (OWNED BY
-- accepts a column of any type; only a number has a largest key to check). Reading a sequence's
-- state waits for a lock on it: sequences in $2 are left out (see locks.sql). last_value is read
-- as pg_sequences reads it, but not through that view: its volatile last_value keeps it from
-- being merged into this query, so it would be read for every sequence before $2 filters.
SELECT c.relname::text,
       s.seqincrement,
       s.seqstart,
       CASE WHEN pg_catalog.has_sequence_privilege(c.oid, 'SELECT,USAGE')
            THEN pg_catalog.pg_sequence_last_value(c.oid) END,
       tn.nspname::text,
       t.relname::text,
       t.relkind::text,
       a.attname::text,
       a.atttypid IN ('pg_catalog.int2'::pg_catalog.regtype, 'pg_catalog.int4'::pg_catalog.regtype,
                      'pg_catalog.int8'::pg_catalog.regtype, 'pg_catalog.numeric'::pg_catalog.regtype)
FROM pg_catalog.pg_sequence s
JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                AND d.objid = c.oid
                                AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                AND d.refobjsubid > 0
                                AND d.deptype IN ('a', 'i')
LEFT JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE n.nspname = $1 AND c.relkind = 'S' AND c.oid <> ALL ($2::pg_catalog.oid[])
ORDER BY c.relname COLLATE "C"
