-- pgparity's state on a node: schema pgparity, UNLOGGED tables only (an unlogged table cannot be
-- published, so no FOR ALL TABLES publication replicates it; a crash empties it, which the
-- trees treat as "rehash everything on this node").
CREATE SCHEMA IF NOT EXISTS pgparity;
CREATE UNLOGGED TABLE IF NOT EXISTS pgparity.trees (
    relid        oid PRIMARY KEY,
    schema_name  text NOT NULL,
    table_name   text NOT NULL,
    key_columns  text[] NOT NULL,
    rule_version int NOT NULL,
    block_size   int NOT NULL,
    generation   bigint NOT NULL DEFAULT 0,
    built_at     timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNLOGGED TABLE IF NOT EXISTS pgparity.leaves (
    tree oid NOT NULL,
    leaf int NOT NULL,
    lo   text[],
    cnt  bigint NOT NULL,
    sum  text NOT NULL, -- exact integer sum of mixed row hashes (numeric as text)
    PRIMARY KEY (tree, leaf)
);
-- Change marks: one table per tree, pgparity."marks_<relid>", created when the table's tracking
-- starts (package marks).
-- Added in 0.1: the digest of every leaf sum (rows, two 64-bit lanes, see root.go) and of the
-- boundaries, so that a re-check reads only the leaves its changes fall in.
ALTER TABLE pgparity.trees ADD COLUMN IF NOT EXISTS layout text;
ALTER TABLE pgparity.trees ADD COLUMN IF NOT EXISTS root_rows bigint;
ALTER TABLE pgparity.trees ADD COLUMN IF NOT EXISTS root_a bigint;
ALTER TABLE pgparity.trees ADD COLUMN IF NOT EXISTS root_b bigint;
