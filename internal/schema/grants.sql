-- Privileges on the schema's tables, views and sequences per grantee role (PUBLIC for every
-- role) and privilege type, from the ACL or, while a relation has none, the owner's default
-- privileges (acldefault); then privileges on single columns (attacl, which has no default).
-- Roles are compared by name. A privilege granted by several grantors is one property, WITH
-- GRANT OPTION when any grantor gave it.
SELECT CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 'table'
            WHEN c.relkind IN ('v', 'm') THEN 'view'
            ELSE 'sequence' END,
       c.relname::text,
       'privilege ' || a.privilege_type
         || CASE WHEN a.grantee = 0 THEN ' to PUBLIC' ELSE ' to ' || pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
       CASE WHEN pg_catalog.bool_or(a.is_grantable) THEN 'granted WITH GRANT OPTION' ELSE 'granted' END
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault(
    CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) AS a
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
GROUP BY c.relkind, c.relname, a.privilege_type, a.grantee
UNION ALL
SELECT CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 'table' ELSE 'view' END,
       c.relname::text,
       'privilege ' || a.privilege_type || ' on column ' || pg_catalog.quote_ident(att.attname)
         || CASE WHEN a.grantee = 0 THEN ' to PUBLIC' ELSE ' to ' || pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
       CASE WHEN pg_catalog.bool_or(a.is_grantable) THEN 'granted WITH GRANT OPTION' ELSE 'granted' END
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute att ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
CROSS JOIN LATERAL pg_catalog.aclexplode(att.attacl) AS a
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'f', 'v', 'm') AND att.attacl IS NOT NULL
GROUP BY c.relkind, c.relname, att.attname, a.privilege_type, a.grantee
