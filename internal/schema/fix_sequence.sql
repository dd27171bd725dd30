-- Advances the sequence named in FROM (also $1.$2) so that its next value follows $3, unless it
-- already does (it never moves a sequence backwards, even when another session called nextval
-- since it was read). The next value comes from the sequence itself: last_value + increment once
-- nextval or setval(…, true) was called, last_value itself while is_called is false (after
-- RESTART or setval(…, false)). Returns the value set; no row when nothing was changed.
SELECT pg_catalog.setval(c.oid, $3, true)
FROM %s AS q
CROSS JOIN pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
WHERE n.nspname = $1 AND c.relname = $2 AND s.seqincrement > 0
  AND CASE WHEN q.is_called THEN q.last_value::pg_catalog.numeric + s.seqincrement
           ELSE q.last_value END <= $3
