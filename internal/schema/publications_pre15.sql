-- Publications that publish tables of schema $1 before PostgreSQL 15 (no FOR TABLES IN SCHEMA,
-- column lists or row filters yet): FOR ALL TABLES, or FOR TABLE with the tables of the schema.
-- $2 (tables left out, see locks.sql) is unused: without row filters nothing here takes a lock.
SELECT 'publication',
       p.pubname::text,
       'publishes',
       pg_catalog.concat_ws('; ',
           CASE WHEN p.puballtables THEN 'FOR ALL TABLES' END,
           (SELECT 'FOR TABLE ' || pg_catalog.string_agg(pg_catalog.quote_ident(c.relname), ', ' ORDER BY c.relname COLLATE "C")
            FROM pg_catalog.pg_publication_rel r
            JOIN pg_catalog.pg_class c ON c.oid = r.prrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE r.prpubid = p.oid AND n.nspname = $1))
FROM pg_catalog.pg_publication p
WHERE $2::pg_catalog.oid[] IS NOT NULL
  AND (p.puballtables
   OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel r
              JOIN pg_catalog.pg_class c ON c.oid = r.prrelid
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE r.prpubid = p.oid AND n.nspname = $1))
