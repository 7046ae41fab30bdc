-- Key profiles of JSON columns (postgres-jsonb --profile): one row per stream, column and key path,
-- with the JSON types found there and how often, as the last run that saw the key counted them. A
-- profile commits in the same transaction as the rows it describes; comparing a run's profile with the
-- stored one gives the schema drift it reports (new keys, vanished keys, type changes).
CREATE TABLE ${flyway:defaultSchema}.extraction_json_keys (
    stream         text        NOT NULL,            -- the bronze table, schema.table
    column_name    text        NOT NULL,            -- the JSON column
    key_path       text[]      NOT NULL,            -- keys from the document down to this one
    types          jsonb       NOT NULL,            -- documents per JSON type here: {"number": 98, "null": 2}
    present        bigint      NOT NULL,            -- documents that hold the key
    nulls          bigint      NOT NULL,            -- of those, documents where it is JSON null
    documents      bigint      NOT NULL,            -- documents (non-NULL values) profiled by that run
    first_seen_run uuid        NOT NULL,
    first_seen_at  timestamptz NOT NULL,
    last_seen_run  uuid        NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    PRIMARY KEY (stream, column_name, key_path)
);
