-- The table, its kind, its estimated row count and whether it inherits from another table. The
-- estimate scales reltuples by the table's current size, as the planner does, so a table that grew
-- since its last ANALYZE is not mistaken for a small one; -1 means unknown (never analyzed, or
-- analyzed empty and filled since), which makes planning count the rows. A partitioned
-- table sums its leaf partitions.
WITH rel AS (
    SELECT c.oid, c.relkind,
           CASE WHEN c.relkind = 'p' THEN
                (SELECT CASE WHEN bool_or(p.reltuples < 0 OR (p.relpages = 0 AND pg_catalog.pg_relation_size(p.oid) > 0)) THEN -1
                             ELSE coalesce(sum(CASE WHEN p.relpages = 0 THEN p.reltuples
                                                    ELSE p.reltuples / p.relpages
                                                         * (pg_catalog.pg_relation_size(p.oid) / current_setting('block_size')::float8) END), 0) END
                 FROM pg_catalog.pg_partition_tree(c.oid) pt
                 JOIN pg_catalog.pg_class p ON p.oid = pt.relid
                 WHERE pt.isleaf)
                WHEN c.reltuples < 0 THEN -1
                WHEN c.relpages = 0 THEN CASE WHEN pg_catalog.pg_relation_size(c.oid) > 0 THEN -1 ELSE c.reltuples END
                ELSE c.reltuples / c.relpages * (pg_catalog.pg_relation_size(c.oid) / current_setting('block_size')::float8)
           END AS est
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'f', 'm')
)
SELECT rel.oid, rel.relkind::text, rel.est::float8,
       EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = rel.oid)
FROM rel
