-- The table, its kind, its estimated row count (partitions summed for a partitioned table) and
-- whether it inherits from another table.
SELECT c.oid,
       c.relkind::text,
       CASE WHEN c.relkind = 'p' THEN
            coalesce((SELECT sum(greatest(p.reltuples, 0)) FROM pg_catalog.pg_partition_tree(c.oid) pt
                        JOIN pg_catalog.pg_class p ON p.oid = pt.relid WHERE pt.isleaf), 0)
            ELSE c.reltuples END::float8,
       EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'f', 'm')
