-- Runs that load a set of tables (--table 'shop.*', --schema shop): one row per run, beside the
-- extraction_runs row each table's load writes. Tables maps each table of the set to its load:
-- {"shop.orders": {"run_id": ..., "stream": "bronze.orders", "status": ..., "loaded_by": set run}},
-- where loaded_by is the set run whose snapshot the table was read in (an earlier run, for a table
-- kept when this run completed one that failed part-way). A run whose process died stays 'running'
-- until the next run of the set finds it unlocked and marks it 'failed'.
CREATE TABLE ${flyway:defaultSchema}.table_set_runs (
    run_id      uuid        PRIMARY KEY,
    set_name    text        NOT NULL,              -- datakit, source and patterns: runs of one name load one set
    status      text        NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'succeeded', 'failed')),
    completes   uuid,                              -- the failed run of the set whose loaded tables this run kept
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at    timestamptz,
    tables      jsonb       NOT NULL DEFAULT '{}',
    details     jsonb       NOT NULL DEFAULT '{}'  -- the patterns, tables that vanished, patterns that matched nothing
);

CREATE INDEX table_set_runs_name_started_idx
    ON ${flyway:defaultSchema}.table_set_runs (set_name, started_at DESC);
