-- Advances sequence $1.$2 so that its next value follows $3, unless it already does (it never
-- moves a sequence backwards, even when another session called nextval since it was read).
-- Returns the value set; no row when nothing was changed.
SELECT pg_catalog.setval(c.oid, $3, true)
FROM pg_catalog.pg_sequences s
JOIN pg_catalog.pg_namespace n ON n.nspname = s.schemaname
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
WHERE s.schemaname = $1 AND s.sequencename = $2 AND s.increment_by > 0
  AND coalesce(s.last_value + s.increment_by, s.start_value) <= $3
