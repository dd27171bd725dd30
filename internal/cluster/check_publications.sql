-- Publications of the current database (pg_publication is per database).
SELECT p.pubname
FROM pg_catalog.pg_publication p
ORDER BY p.pubname COLLATE "C"
