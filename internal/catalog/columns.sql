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
       a.attnum::int,
       -- The collation that orders the column, resolved to provider:locale ("default" is the
       -- database's), so two nodes can be checked to sort keys alike. to_jsonb() reads the locale
       -- field whatever this server version calls it.
       CASE WHEN a.attcollation = 0 THEN ''
            WHEN co.collname = 'default' THEN
                 (SELECT d.datlocprovider::text || ':' || coalesce(to_jsonb(d)->>'datlocale', to_jsonb(d)->>'daticulocale', d.datcollate)
                  FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
            ELSE co.collprovider::text || ':' || coalesce(to_jsonb(co)->>'colllocale', to_jsonb(co)->>'colliculocale', co.collcollate, co.collname)
       END
FROM pg_catalog.pg_attribute a
JOIN base b ON b.attnum = a.attnum
JOIN pg_catalog.pg_type bt ON bt.oid = b.typid
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
