-- Per column of table $1: whether it is GENERATED ALWAYS AS IDENTITY, and the sequence that
-- feeds it (identity columns and serial columns: the sequence depends on the column, internally
-- or automatically), with its schema, name and increment. Dropped columns are not data.
SELECT a.attname::text,
       a.attidentity = 'a',
       s.oid::int8,
       coalesce(s.nspname::text, ''),
       coalesce(s.relname::text, ''),
       coalesce(s.seqincrement, 0)
FROM pg_catalog.pg_attribute a
LEFT JOIN LATERAL (
    SELECT c.oid, n.nspname, c.relname, p.seqincrement
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_class c ON c.oid = d.objid AND c.relkind = 'S'
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_sequence p ON p.seqrelid = c.oid
    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype IN ('a', 'i')
    ORDER BY c.oid
    LIMIT 1
) s ON true
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
