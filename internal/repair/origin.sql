-- Create the replication origin $1 unless it exists; returns whether it had to be created.
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname = $1) THEN false
            ELSE pg_catalog.pg_replication_origin_create($1) IS NOT NULL END
