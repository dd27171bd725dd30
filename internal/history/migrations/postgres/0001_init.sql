-- The first schema of the history store (PostgreSQL). Every object lives in the store's own schema;
-- JSON columns hold compact JSON text (cast to jsonb to query them).

CREATE TABLE @schema_version (
    version    integer     PRIMARY KEY,
    applied_at timestamptz NOT NULL
);

CREATE TABLE @runs (
    id             bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command        text             NOT NULL,
    cluster        text             NOT NULL,
    tables         text             NOT NULL,
    options        text             NOT NULL,
    started_at     timestamptz      NOT NULL,
    finished_at    timestamptz,
    status         text             NOT NULL,
    exit_code      integer,
    differing_keys bigint           NOT NULL DEFAULT 0,
    transient_keys bigint           NOT NULL DEFAULT 0,
    rows_compared  text             NOT NULL DEFAULT '{}',
    coverage       double precision,
    diff_file      text,
    error          text
);
CREATE INDEX "runs_started_at" ON @runs (started_at);
CREATE INDEX "runs_cluster_started_at" ON @runs (cluster, started_at);

CREATE TABLE @run_tables (
    table_name text   NOT NULL,
    run_id     bigint NOT NULL REFERENCES @runs (id),
    PRIMARY KEY (table_name, run_id)
);

CREATE TABLE @divergences (
    id                     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cluster                text        NOT NULL,
    table_name             text        NOT NULL,
    key                    text        NOT NULL,
    nodes                  text        NOT NULL,
    first_seen_run         bigint      NOT NULL REFERENCES @runs (id),
    first_seen_at          timestamptz NOT NULL,
    last_seen_run          bigint      NOT NULL REFERENCES @runs (id),
    last_seen_at           timestamptz NOT NULL,
    last_repair_run        bigint      REFERENCES @runs (id),
    last_repair_at         timestamptz,
    resolved_run           bigint      REFERENCES @runs (id),
    resolved_at            timestamptz,
    resolved_by_repair_run bigint      REFERENCES @runs (id)
);
-- At most one open divergence per key: the target of RecordDivergences' upsert.
CREATE UNIQUE INDEX "divergences_open_key" ON @divergences (cluster, table_name, key)
    WHERE resolved_run IS NULL;
CREATE INDEX "divergences_last_seen_at" ON @divergences (cluster, table_name, last_seen_at);
