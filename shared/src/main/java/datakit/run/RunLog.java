package datakit.run;

import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.db.CopyPipe;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The {@code extraction_runs} table of a bronze schema: a row per run, 'running' from the start, then
 * 'succeeded' in the transaction that commits the run's data, or 'failed' with its one-line error.
 * A 'running' row whose process died is marked 'abandoned' by the next run of the stream.
 */
public final class RunLog {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String table;

    public RunLog(String bronzeSchema) {
        this.table = TableRef.of(bronzeSchema, "extraction_runs").sql();
    }

    /** What a run is, recorded when it starts. */
    public record RunRecord(UUID runId, String datakit, String source, Optional<String> sourceObject, String stream,
                            String mode, String writeMode, Map<String, Object> details) {
    }

    public void start(Connection connection, RunRecord run) {
        Sql.using(connection).execute("INSERT INTO " + table
                + " (run_id, datakit, source, source_object, stream, mode, write_mode, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?::jsonb)",
            run.runId(), run.datakit(), run.source(), run.sourceObject().orElse(null), run.stream(), run.mode(), run.writeMode(),
            json(run.details()));
    }

    /** Marks the run succeeded; call inside the transaction that commits the run's data. */
    public void succeed(Connection transaction, UUID runId, long rows, long bytes, Map<String, Object> details) {
        Sql.using(transaction).execute("UPDATE " + table + " SET status = 'succeeded', ended_at = clock_timestamp(), "
            + "rows_loaded = ?, bytes_loaded = ?, details = details || ?::jsonb WHERE run_id = ?", rows, bytes, json(details), runId);
    }

    public void fail(Connection connection, UUID runId, String error) {
        Sql.using(connection).execute("UPDATE " + table + " SET status = 'failed', ended_at = clock_timestamp(), error = ? "
            + "WHERE run_id = ? AND status = 'running'", error, runId);
    }

    /** Marks the stream's other 'running' rows abandoned; call while holding the stream's lock. */
    public int abandonStale(Connection connection, String stream, UUID currentRun) {
        return Sql.using(connection).execute("UPDATE " + table + " SET status = 'abandoned', ended_at = clock_timestamp(), "
            + "error = 'the process ended without recording an outcome' WHERE stream = ? AND status = 'running' AND run_id <> ?",
            stream, currentRun);
    }

    /**
     * The rows and bytes of the run if it committed: a commit whose answer was lost with the connection
     * may have gone through, and must not be loaded twice.
     */
    public Optional<CopyPipe.Result> committedResult(Connection connection, UUID runId) {
        return Sql.using(connection)
            .resultQuery("SELECT rows_loaded, bytes_loaded FROM " + table + " WHERE run_id = ? AND status = 'succeeded'", runId)
            .fetchOptional(r -> new CopyPipe.Result(r.get(0, Long.class), r.get(1, Long.class)));
    }

    private static String json(Map<String, Object> details) {
        try {
            return JSON.writeValueAsString(details);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("run details are not JSON: " + details.keySet(), e);
        }
    }
}
