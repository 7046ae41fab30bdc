-- A partitioned load shared by several processes (--shard i/n) publishes its bronze table once, when the
-- last process finishes. The runs of the other processes end 'staged': their parts are committed in
-- staging tables and wait for the publishing run; 'succeeded' keeps meaning "the data is in bronze".
ALTER TABLE ${flyway:defaultSchema}.extraction_runs DROP CONSTRAINT extraction_runs_status_check;
ALTER TABLE ${flyway:defaultSchema}.extraction_runs ADD CONSTRAINT extraction_runs_status_check
    CHECK (status IN ('running', 'staged', 'succeeded', 'failed', 'abandoned'));
