-- The first schema of the history store (SQLite). Timestamps are UTC RFC 3339 text with six
-- fractional digits, so that text order is time order. JSON columns hold compact JSON text.

CREATE TABLE @schema_version (
    version    integer PRIMARY KEY,
    applied_at text NOT NULL
);

CREATE TABLE @runs (
    id             integer PRIMARY KEY AUTOINCREMENT,
    command        text    NOT NULL,
    cluster        text    NOT NULL,
    tables         text    NOT NULL,
    options        text    NOT NULL,
    started_at     text    NOT NULL,
    finished_at    text,
    status         text    NOT NULL,
    exit_code      integer,
    differing_keys integer NOT NULL DEFAULT 0,
    transient_keys integer NOT NULL DEFAULT 0,
    rows_compared  text    NOT NULL DEFAULT '{}',
    coverage       real,
    diff_file      text,
    error          text
);
CREATE INDEX "runs_started_at" ON @runs (started_at);
CREATE INDEX "runs_cluster_started_at" ON @runs (cluster, started_at);

CREATE TABLE @run_tables (
    table_name text    NOT NULL,
    run_id     integer NOT NULL REFERENCES @runs (id),
    PRIMARY KEY (table_name, run_id)
);

CREATE TABLE @divergences (
    id                     integer PRIMARY KEY AUTOINCREMENT,
    cluster                text    NOT NULL,
    table_name             text    NOT NULL,
    key                    text    NOT NULL,
    nodes                  text    NOT NULL,
    first_seen_run         integer NOT NULL REFERENCES @runs (id),
    first_seen_at          text    NOT NULL,
    last_seen_run          integer NOT NULL REFERENCES @runs (id),
    last_seen_at           text    NOT NULL,
    last_repair_run        integer REFERENCES @runs (id),
    last_repair_at         text,
    resolved_run           integer REFERENCES @runs (id),
    resolved_at            text,
    resolved_by_repair_run integer REFERENCES @runs (id)
);
-- At most one open divergence per key: the target of RecordDivergences' upsert.
CREATE UNIQUE INDEX "divergences_open_key" ON @divergences (cluster, table_name, key)
    WHERE resolved_run IS NULL;
CREATE INDEX "divergences_last_seen_at" ON @divergences (cluster, table_name, last_seen_at);
