-- Quarantine of values that could not land as declared (postgres-jsonb --json-columns: text that does not
-- parse as JSON). The row itself loads, with NULL in that column; the value and the reason land here, in
-- the same transaction as the row.
CREATE TABLE ${flyway:defaultSchema}._bronze_rejects (
    run_id       uuid        NOT NULL,           -- the run that loaded the row
    stream       text        NOT NULL,           -- the bronze table, schema.table
    source_table text,                           -- the source table, schema.table (NULL for a query)
    row_key      jsonb,                          -- the row's primary key, {"id": 42}; NULL without one
    column_name  text        NOT NULL,
    raw_value    text        NOT NULL,           -- the value exactly as the source held it
    error        text        NOT NULL,           -- why it was rejected
    rejected_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX _bronze_rejects_stream_run_idx ON ${flyway:defaultSchema}._bronze_rejects (stream, run_id);

-- NULL when the text parses as jsonb, else the parser's message. PostgreSQL 16 has pg_input_error_info;
-- this works on every supported version.
CREATE FUNCTION ${flyway:defaultSchema}._bronze_jsonb_error(value text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    detail text;
BEGIN
    PERFORM value::jsonb;
    RETURN NULL;
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN SQLERRM || coalesce(' (' || nullif(detail, '') || ')', '');
END
$$;
