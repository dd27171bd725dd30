-- Whether the schema exists, and the server version (some catalogs differ between versions).
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = $1),
       pg_catalog.current_setting('server_version_num')::int
