-- The last run of each stream, for dashboards and health checks.
CREATE OR REPLACE VIEW ${flyway:defaultSchema}.extraction_latest_runs AS
SELECT DISTINCT ON (stream) *
FROM ${flyway:defaultSchema}.extraction_runs
ORDER BY stream, started_at DESC;
