-- PostgreSQL 15+: whether the current role may SET session_replication_role.
SELECT pg_catalog.has_parameter_privilege(current_user, 'session_replication_role', 'SET')
