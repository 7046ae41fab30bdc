-- Schema changes: one row per change of a bronze table's columns that followed the source's, written
-- in the transaction that makes the change. A column that stays in the same state run after run is
-- written once. A change that --on-schema-change refused is in the failed run's extraction_runs row
-- instead (its error, and details.schema_changes_refused). docs/schema-changes.md explains each kind.
CREATE TABLE ${flyway:defaultSchema}.schema_changes (
    change_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream        text        NOT NULL,              -- the bronze table, schema.table
    source_object text,                              -- schema.table read, or NULL for a query
    run_id        uuid        NOT NULL,              -- the run that made the change
    column_name   text        NOT NULL,              -- the source column; '' for 'renamed' (the table itself)
    change        text        NOT NULL
                  CHECK (change IN ('added', 'dropped', 'widened', 'variant', 'retyped', 'ignored', 'renamed')),
    old_type      text,                              -- the bronze column's type before; 'renamed': the old schema.table
    new_type      text,                              -- the source's type now; 'renamed': the new schema.table
    lands_in      text,                              -- the bronze column the values land in from now on
    changed_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX schema_changes_stream_column_idx
    ON ${flyway:defaultSchema}.schema_changes (stream, column_name, change_id DESC);
