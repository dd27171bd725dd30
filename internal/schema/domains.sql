-- Domains of the schema: the base type with typmod (and its collation when it is not the base
-- type's), NOT NULL, the default, and each CHECK constraint by name with its definition. NOT
-- NULL is typnotnull (PostgreSQL 17+ also records it as a constraint of contype 'n').
SELECT 'domain',
       t.typname::text,
       v.prop,
       v.value
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype
CROSS JOIN LATERAL (VALUES
    ('base type', pg_catalog.format_type(t.typbasetype, t.typtypmod)
        || CASE WHEN t.typcollation <> b.typcollation
                THEN ' COLLATE ' || (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                                     FROM pg_catalog.pg_collation co
                                     JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                                     WHERE co.oid = t.typcollation)
                ELSE '' END),
    ('not null', CASE WHEN t.typnotnull THEN 'true' ELSE 'false' END),
    ('default', pg_catalog.pg_get_expr(t.typdefaultbin, 0))
) AS v(prop, value)
WHERE n.nspname = $1 AND t.typtype = 'd' AND v.value IS NOT NULL
UNION ALL
SELECT 'domain',
       t.typname::text,
       'constraint ' || pg_catalog.quote_ident(k.conname),
       pg_catalog.pg_get_constraintdef(k.oid) || CASE WHEN NOT k.convalidated THEN ' (not validated)' ELSE '' END
FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_type t ON t.oid = k.contypid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = $1 AND t.typtype = 'd' AND k.contype = 'c'
