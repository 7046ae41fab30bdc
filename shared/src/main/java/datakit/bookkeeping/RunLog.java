package datakit.bookkeeping;

import datakit.db.CopyPipe;
import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.jooq.exception.DataAccessException;

/**
 * The {@code extraction_runs} table of a bronze schema: a row per run, 'running' from the start, then
 * 'succeeded' in the transaction that commits the run's data, or 'failed' with its one-line error.
 * A 'running' row whose process died is marked 'abandoned' by the next run of the stream. The run's success also records the
 * rename of its source table that {@link StreamGuard} found it making ({@link StreamRename}).
 */
public final class RunLog {
    private final String table;
    private final String schema;
    /** The rename of the stream's source table that the run's last decision met (StreamGuard), if any. */
    private volatile Optional<StreamRename> rename = Optional.empty();

    public RunLog(String bronzeSchema) {
        this.table = TableRef.of(bronzeSchema, "extraction_runs").sql();
        this.schema = bronzeSchema;
    }

    /** The channel on which every change of a run's status is published with NOTIFY, at the commit that makes it. */
    public static final String CHANNEL = "bronze_runs";

    /**
     * Runs a statement that inserts or updates runs' rows, and publishes each changed row on {@link #CHANNEL}
     * in the same transaction: {@code {"schema", "run_id", "stream", "datakit", "status", "rows"}}, and the schema changes the
     * run recorded or refused ({@code "schema_changes"}, {@code "schema_changes_refused"}) and the name its source table had
     * ({@code "renamed_from"}) where there are any.
     * Returns the number of rows changed.
     */
    private int changeStatus(Connection connection, String change, Object... binds) {
        return Sql.using(connection).resultQuery("WITH changed AS (" + change + " RETURNING run_id, stream, datakit, status, rows_loaded, "
                + "details) SELECT pg_catalog.pg_notify('" + CHANNEL + "', (jsonb_build_object('schema', " + Sql.literal(schema)
                + "::text, 'run_id', run_id, 'stream', stream, 'datakit', datakit, 'status', status, 'rows', rows_loaded) "
                + "|| jsonb_strip_nulls(jsonb_build_object('schema_changes', details->'schema_changes', "
                + "'schema_changes_refused', details->'schema_changes_refused', 'renamed_from', details->'renamed_from')))::text) "
                + "FROM changed",
            binds).fetch().size();
    }

    /** What a run is, recorded when it starts. */
    public record RunRecord(UUID runId, String datakit, String source, Optional<String> sourceObject, String stream,
                            String mode, String writeMode, Map<String, Object> details) {
    }

    /** The last successful run of a stream: what it read, in which mode, and how it wrote. */
    public record PreviousRun(UUID runId, Optional<String> sourceObject, String mode, String writeMode) {
    }

    /** Records the run as started, in its own transaction, so monitoring sees it at once. */
    public void start(Database warehouse, RunRecord run) {
        try {
            warehouse.inTransaction(connection -> {
                start(connection, run);
                return null;
            });
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Recording the run in " + table, e, warehouse);
        }
    }

    /**
     * Records the run's failure, with facts for its details (what a schema-change policy refused), if the warehouse can be
     * reached; says so on stderr if it cannot.
     */
    public void recordFailure(Database warehouse, RunContext run, String error, Map<String, Object> details) {
        try {
            warehouse.inTransaction(connection -> {
                fail(connection, run.runId(), error, details);
                return null;
            });
        } catch (SQLException | RuntimeException e) {
            run.warn("could not record the failure in extraction_runs: " + SqlErrors.serverMessage(e));
        }
    }

    public void start(Connection connection, RunRecord run) {
        changeStatus(connection, "INSERT INTO " + table
                + " (run_id, datakit, source, source_object, stream, mode, write_mode, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?::jsonb)",
            run.runId(), run.datakit(), run.source(), run.sourceObject().orElse(null), run.stream(), run.mode(), run.writeMode(),
            RunSummary.toJson(run.details()));
    }

    /** Marks the run succeeded; call inside the transaction that commits the run's data. */
    public void succeed(Connection transaction, UUID runId, long rows, long bytes) {
        succeed(transaction, runId, rows, bytes, Map.of());
    }

    /**
     * Marks the run succeeded with facts for {@code details} (checkpoints, chunks, a full refresh and why). A row
     * that another run marked 'abandoned' (it started while that run held the stream, and got it after) loses
     * that run's error: a run commits only while it holds the stream's lock, so its success is the truer outcome.
     */
    public void succeed(Connection transaction, UUID runId, long rows, long bytes, Map<String, Object> details) {
        changeStatus(transaction, "UPDATE " + table + " SET status = 'succeeded', ended_at = clock_timestamp(), error = NULL, "
            + "rows_loaded = ?, bytes_loaded = ?, details = details || ?::jsonb WHERE run_id = ?", rows, bytes,
            RunSummary.toJson(withRename(transaction, runId, details)), runId);
    }

    /**
     * Keeps what {@link StreamGuard#check} found of a rename of the stream's source table, for the run's success to record and
     * its summary to say; each decision of the run (each attempt) replaces the last.
     */
    public void follows(Optional<StreamRename> found) {
        rename = found;
    }

    /** The name the stream's source table had, where this run moves the stream to its new name. */
    public Optional<String> renamedFrom() {
        return rename.filter(StreamRename::now).map(StreamRename::from);
    }

    /**
     * Says what the run met of a rename of its source table (a warning), and adds the rename it made to a summary's
     * {@code details} ({@code renamed_from}); call once, with the summary (or the dry run's plan).
     */
    public void sayRename(RunContext run, Map<String, Object> details) {
        rename.ifPresent(r -> {
            run.warn(r.describe(run.dryRun()));
            r.addTo(details);
        });
    }

    /** The details of a run's success, with the rename it made, which it records in the same transaction. */
    private Map<String, Object> withRename(Connection transaction, UUID runId, Map<String, Object> details) {
        if (rename.filter(StreamRename::now).isEmpty()) {
            return details;
        }
        rename.get().record(transaction, runId);
        var with = new LinkedHashMap<>(details);
        rename.get().addTo(with);
        return with;
    }

    /**
     * Adds {@code details} to the run's, in the caller's transaction: facts a run commits before it ends (the schema changes
     * it made), which stay said if it then fails.
     */
    public void note(Connection transaction, UUID runId, Map<String, Object> details) {
        if (!details.isEmpty()) {
            Sql.using(transaction).execute("UPDATE " + table + " SET details = details || ?::jsonb WHERE run_id = ?",
                RunSummary.toJson(details), runId);
        }
    }

    /** A succeeded run of the stream that started after {@code since} (the warehouse's clock), if any. */
    public Optional<UUID> succeededSince(Connection transaction, String stream, java.time.OffsetDateTime since) {
        return Sql.using(transaction).resultQuery("SELECT run_id FROM " + table + " WHERE stream = ? AND status = 'succeeded' AND started_at > ?::timestamptz "
            + "ORDER BY started_at DESC LIMIT 1", stream, since.toString()).fetchOptional(0, UUID.class);
    }

    /**
     * The staging tables (as SQL) that unfinished runs of the stream committed for copies from several connections and never
     * put in place: a run that failed, was killed, or an earlier attempt of the current one.
     */
    public java.util.List<String> sharedStagingOfUnfinishedRuns(Connection transaction, String stream) {
        return Sql.using(transaction).resultQuery("SELECT DISTINCT details->>'staging' FROM " + table + " WHERE stream = ? AND status <> "
            + "'succeeded' AND pg_catalog.jsonb_exists(details, 'staging')", stream).fetch(0, String.class);
    }

    /** Records how far a run that commits in parts got; call in the transaction of each part. */
    public void progress(Connection transaction, UUID runId, long rows, long bytes) {
        Sql.using(transaction).execute("UPDATE " + table + " SET rows_loaded = ?, bytes_loaded = ? WHERE run_id = ?", rows, bytes, runId);
    }

    /** Adds a committed part's rows and bytes to the run's; call in the part's transaction. */
    public void addProgress(Connection transaction, UUID runId, long rows, long bytes) {
        Sql.using(transaction).execute("UPDATE " + table + " SET rows_loaded = coalesce(rows_loaded, 0) + ?, "
            + "bytes_loaded = coalesce(bytes_loaded, 0) + ? WHERE run_id = ?", rows, bytes, runId);
    }

    /**
     * Marks the run 'staged': its parts of a shared load are committed, and the process that finishes the
     * load's last part publishes them.
     */
    public void stage(Connection transaction, UUID runId, Map<String, Object> details) {
        changeStatus(transaction, "UPDATE " + table + " SET status = 'staged', ended_at = clock_timestamp(), error = NULL, "
            + "details = details || ?::jsonb WHERE run_id = ?", RunSummary.toJson(details), runId);
    }

    /** Marks a run that committed its rows part by part succeeded, keeping the counts the parts added (see {@link #succeed}). */
    public void succeedInParts(Connection transaction, UUID runId, Map<String, Object> details) {
        changeStatus(transaction, "UPDATE " + table + " SET status = 'succeeded', ended_at = clock_timestamp(), error = NULL, "
            + "rows_loaded = coalesce(rows_loaded, 0), bytes_loaded = coalesce(bytes_loaded, 0), details = details || ?::jsonb "
            + "WHERE run_id = ?", RunSummary.toJson(withRename(transaction, runId, details)), runId);
    }

    /**
     * Marks the run failed, unless it committed. A run that waited for the stream's lock may find its
     * row marked 'abandoned' by the run that held it; its own outcome is the truer one.
     */
    void fail(Connection connection, UUID runId, String error, Map<String, Object> details) {
        changeStatus(connection, "UPDATE " + table + " SET status = 'failed', ended_at = clock_timestamp(), error = ?, "
            + "details = details || ?::jsonb WHERE run_id = ? AND status IN ('running', 'abandoned')", error, RunSummary.toJson(details), runId);
    }

    /** Marks the stream's other 'running' rows abandoned; call while holding the stream's lock. */
    public int abandonStale(Connection connection, String stream, UUID currentRun) {
        return changeStatus(connection, "UPDATE " + table + " SET status = 'abandoned', ended_at = clock_timestamp(), "
            + "error = 'the process ended without recording an outcome' WHERE stream = ? AND status = 'running' AND run_id <> ?",
            stream, currentRun);
    }

    /** Another run of the stream that says it is running, for "who holds the lock" messages. */
    Optional<String> otherRunning(Connection connection, String stream, UUID currentRun) {
        return Sql.using(connection).resultQuery("SELECT run_id || ', started ' || to_char(started_at, 'YYYY-MM-DD HH24:MI:SS TZ') FROM "
                + table + " WHERE stream = ? AND status = 'running' AND run_id <> ? ORDER BY started_at DESC LIMIT 1", stream, currentRun)
            .fetchOptional(0, String.class);
    }

    public Optional<PreviousRun> lastSuccess(Connection connection, String stream) {
        // A dry run reads a schema that may not be migrated yet: no runs table, no run.
        if (!Sql.using(connection).resultQuery("SELECT pg_catalog.to_regclass(?) IS NOT NULL", table).fetchOne(0, Boolean.class)) {
            return Optional.empty();
        }
        return Sql.using(connection).resultQuery("SELECT run_id, source_object, mode, write_mode FROM " + table
                + " WHERE (stream = ? OR pg_catalog.jsonb_exists(details -> 'child_tables', ?)) AND status = 'succeeded'"
                + " ORDER BY started_at DESC LIMIT 1", stream, stream)
            .fetchOptional(r -> new PreviousRun(r.get(0, UUID.class), Optional.ofNullable(r.get(1, String.class)), r.get(2, String.class),
                r.get(3, String.class)));
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
}
