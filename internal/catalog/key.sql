-- Candidate keys: the primary key, then valid, immediate, non-partial unique indexes on plain
-- columns, fewest columns first. Column names come in index order; INCLUDE columns are not key.
SELECT ic.relname::text,
       i.indisprimary,
       ARRAY(SELECT a.attname::text
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.ord <= i.indnkeyatts
             ORDER BY k.ord)
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = $1
  AND (i.indisprimary OR i.indisunique)
  AND i.indisvalid AND i.indimmediate
  AND i.indpred IS NULL
  AND NOT (0 = ANY (i.indkey::int2[]))
ORDER BY i.indisprimary DESC, i.indnkeyatts, ic.relname
