-- Columns of a table with their types resolved through domains, generated and nullability flags,
-- and whether their collation is deterministic. Dropped columns are not data.
WITH RECURSIVE dom(attnum, typid, depth) AS (
    SELECT a.attnum, a.atttypid, 0
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
    SELECT d.attnum, t.typbasetype, d.depth + 1
    FROM dom d JOIN pg_catalog.pg_type t ON t.oid = d.typid
    WHERE t.typtype = 'd'
), base AS (
    SELECT DISTINCT ON (attnum) attnum, typid FROM dom ORDER BY attnum, depth DESC
)
SELECT a.attname::text,
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       a.atttypid::int8,
       pg_catalog.format_type(b.typid, NULL),
       b.typid::int8,
       bt.typtype::text,
       bt.typcategory::text,
       a.attnotnull,
       a.attgenerated <> '',
       coalesce((SELECT co.collisdeterministic FROM pg_catalog.pg_collation co WHERE co.oid = a.attcollation), true),
       a.attnum::int
FROM pg_catalog.pg_attribute a
JOIN base b ON b.attnum = a.attnum
JOIN pg_catalog.pg_type bt ON bt.oid = b.typid
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
