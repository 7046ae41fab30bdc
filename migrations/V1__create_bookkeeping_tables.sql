-- Bookkeeping of one bronze schema. Flyway replaces ${flyway:defaultSchema} with the schema being
-- migrated (bronze by default), so every bronze schema carries its own run history and checkpoints.

-- One row per datakit run. Written 'running' when a run starts; the row turns 'succeeded' in the same
-- transaction that commits the run's data, so a succeeded row always means the data is there.
CREATE TABLE ${flyway:defaultSchema}.extraction_runs (
    run_id        uuid        PRIMARY KEY,
    datakit       text        NOT NULL,              -- postgres-extract, postgres-incremental, ...
    source        text        NOT NULL,              -- host:port/database, never credentials
    source_object text,                              -- schema.table read, or NULL for a query
    stream        text        NOT NULL,              -- the bronze table written, schema.table
    mode          text        NOT NULL,              -- full, incremental, partitioned, jsonb, cdc
    write_mode    text        NOT NULL,              -- replace, append, merge
    status        text        NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'succeeded', 'failed', 'abandoned')),
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at      timestamptz,
    rows_loaded   bigint,
    bytes_loaded  bigint,                            -- COPY data bytes streamed
    error         text,                              -- the one-line error of a failed run
    details       jsonb       NOT NULL DEFAULT '{}'  -- mode-specific facts: source SQL, estimate, ...
);

CREATE INDEX extraction_runs_stream_started_idx
    ON ${flyway:defaultSchema}.extraction_runs (stream, started_at DESC);

-- Where a stream resumes. One row per stream and partition ('' for the whole stream). Incremental
-- runs keep their cursor here, partitioned runs one row per partition, CDC runs the confirmed LSN.
-- A checkpoint commits in the same transaction as the rows it covers.
CREATE TABLE ${flyway:defaultSchema}.extraction_checkpoints (
    stream         text        NOT NULL,
    partition_name text        NOT NULL DEFAULT '',
    cursor_value   jsonb,                            -- {"columns": [...], "types": [...], "values": [...]}
    lsn            pg_lsn,
    state          jsonb       NOT NULL DEFAULT '{}',
    run_id         uuid        NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (stream, partition_name)
);
