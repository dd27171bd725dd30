-- Publications that publish tables of schema $1 (PostgreSQL 15+), with how they publish them:
-- FOR ALL TABLES, FOR TABLES IN SCHEMA (pg_publication_namespace), FOR TABLE with each table's
-- column list and row filter. A publication FOR TABLES IN SCHEMA and one FOR TABLE listing the
-- same tables have the same members today but differ for every table created later. Deparsing
-- a row filter waits for a lock on its table: tables in $2 are left out (see locks.sql).
SELECT 'publication',
       p.pubname::text,
       'publishes',
       pg_catalog.concat_ws('; ',
           CASE WHEN p.puballtables THEN 'FOR ALL TABLES' END,
           CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace pn
                             JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid
                             WHERE pn.pnpubid = p.oid AND n.nspname = $1)
                THEN 'FOR TABLES IN SCHEMA ' || pg_catalog.quote_ident($1) END,
           (SELECT 'FOR TABLE ' || pg_catalog.string_agg(
                       pg_catalog.quote_ident(c.relname)
                       || coalesce(' (' || (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attname COLLATE "C")
                                            FROM pg_catalog.pg_attribute a
                                            WHERE a.attrelid = r.prrelid AND a.attnum = ANY (r.prattrs::pg_catalog.int2[])) || ')', '')
                       || coalesce(' WHERE ' || pg_catalog.pg_get_expr(r.prqual, r.prrelid), ''),
                       ', ' ORDER BY c.relname COLLATE "C")
            FROM pg_catalog.pg_publication_rel r
            JOIN pg_catalog.pg_class c ON c.oid = r.prrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE r.prpubid = p.oid AND n.nspname = $1
              AND (r.prqual IS NULL OR r.prrelid <> ALL ($2::pg_catalog.oid[]))))
FROM pg_catalog.pg_publication p
WHERE p.puballtables
   OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace pn
              JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid
              WHERE pn.pnpubid = p.oid AND n.nspname = $1)
   OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel r
              JOIN pg_catalog.pg_class c ON c.oid = r.prrelid
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE r.prpubid = p.oid AND n.nspname = $1)
