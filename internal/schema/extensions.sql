-- Extensions of the database (they are not schema objects, but they define the types and
-- functions a schema uses) with their version and schema. $1 is unused and kept so that every
-- structure query takes the same parameters.
SELECT 'extension',
       x.extname::text,
       v.prop,
       v.value
FROM pg_catalog.pg_extension x
JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
CROSS JOIN LATERAL (VALUES ('version', x.extversion::text), ('schema', n.nspname::text)) AS v(prop, value)
WHERE $1::text IS NOT NULL
