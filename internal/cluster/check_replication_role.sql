-- PostgreSQL 15+: whether a non-superuser was granted SET ON PARAMETER session_replication_role.
SELECT pg_catalog.has_parameter_privilege(current_user, 'session_replication_role', 'SET')
