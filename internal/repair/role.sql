-- Whether the current role is a superuser, and the server version: a superuser may always set
-- session_replication_role; from PostgreSQL 15 on, GRANT SET ON PARAMETER may allow others.
SELECT r.rolsuper, pg_catalog.current_setting('server_version_num')::int, current_user::text
FROM pg_catalog.pg_roles r
WHERE r.rolname = current_user
