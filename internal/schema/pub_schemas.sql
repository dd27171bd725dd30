-- The schemas publication $1 publishes FOR TABLES IN SCHEMA (PostgreSQL 15+).
SELECT n.nspname::text
FROM pg_catalog.pg_publication p
JOIN pg_catalog.pg_publication_namespace pn ON pn.pnpubid = p.oid
JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid
WHERE p.pubname = $1
ORDER BY n.nspname COLLATE "C"
