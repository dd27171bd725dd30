-- Member tables of every publication of the current database, with the published columns (all
-- columns when the publication has no column list) and the row filter (NULL when none): what
-- pg_publication_tables shows, read from pg_get_publication_tables once per publication. Run with
-- jit = off (see read.go).
WITH t AS MATERIALIZED (
  SELECT p.pubname, g.relid, g.attrs, g.qual
  FROM pg_catalog.pg_publication p
  CROSS JOIN LATERAL pg_catalog.pg_get_publication_tables(p.pubname::text) g
)
SELECT t.pubname::text, n.nspname::text, c.relname::text,
       coalesce((SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum)
                 FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = t.relid AND a.attnum > 0 AND NOT a.attisdropped
                   AND (t.attrs IS NULL OR a.attnum = ANY (t.attrs))), '{}'),
       pg_catalog.pg_get_expr(t.qual, t.relid)
FROM t
JOIN pg_catalog.pg_class c ON c.oid = t.relid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
ORDER BY t.pubname COLLATE "C", n.nspname COLLATE "C", c.relname COLLATE "C"
