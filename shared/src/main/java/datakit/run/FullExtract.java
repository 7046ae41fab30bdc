package datakit.run;

import datakit.bronze.BronzeLoad;
import datakit.bronze.BronzeMetadata;
import datakit.bronze.WriteMode;
import datakit.db.CopyPipe;
import datakit.db.Database;
import datakit.db.Migrations;
import datakit.db.SqlErrors;
import datakit.source.ReadPlan;
import datakit.source.Selection;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.jooq.exception.DataAccessException;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyOut;

/**
 * A full extract: plan a read on the source, then stream it into a bronze table in one warehouse
 * transaction that also marks the run succeeded. A failure that may pass (a lost connection) retries
 * the whole load; nothing of a failed attempt is ever committed.
 */
public final class FullExtract {
    private final RunContext run;
    private final Database source;
    private final Database warehouse;
    private SourceSession session;

    public FullExtract(RunContext run, Database source, Database warehouse) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
    }

    /** Plans the read in a read-only snapshot that the copy will use too. */
    public ReadPlan plan(Selection selection) {
        closeSession();
        long started = System.nanoTime();
        session = SourceSession.begin(source);
        ReadPlan plan = session.plan(selection);
        run.info("planned the read of %s in %d ms: %s".formatted(plan.describe(), millisSince(started), plan.copySql()));
        return plan;
    }

    /** Loads the planned rows into {@code target}; with {@code --dry-run}, prints the plan instead. */
    public void load(ReadPlan plan, TableRef target, WriteMode mode) {
        var metadata = new BronzeMetadata(run.runId(), source.settings().describe(),
            plan.table().map(TableRef::schema), plan.table().map(TableRef::table), "full");
        if (run.dryRun()) {
            try (Connection connection = warehouse.connect()) {
                var load = new BronzeLoad(Sql.using(connection), plan, target, mode, metadata);
                new DryRun(run, source, warehouse, plan, target, mode).print(load, Migrations.pending(warehouse.dataSource(), target.schema()));
            } catch (SQLException | DataAccessException e) {
                throw SqlErrors.failure("Inspecting the warehouse " + warehouse.settings().describe(), e);
            }
            return;
        }
        long migrating = System.nanoTime();
        Migrations.apply(warehouse.dataSource(), target.schema()).forEach(m -> run.info("applied migration " + m + " to " + target.schema()));
        run.info("checked the migrations of %s in %d ms".formatted(target.schema(), millisSince(migrating)));
        var runs = new RunLog(target.schema());
        var record = new RunLog.RunRecord(run.runId(), run.datakit(), source.settings().describe(), plan.table().map(TableRef::toString),
            target.toString(), "full", mode.label(), Map.of("copy", plan.copySql(), "estimated_rows", plan.estimatedRows()));
        try (Connection connection = warehouse.connect()) {
            runs.start(connection, record);
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Recording the run in " + target.schema() + ".extraction_runs", e);
        }
        long started = System.nanoTime();
        try {
            CopyPipe.Result result = warehouse.retry().run(attempt -> attempt(attempt, plan, target, mode, metadata, runs));
            long ms = (System.nanoTime() - started) / 1_000_000;
            new RunSummary("succeeded", run.datakit(), run.runId(), source.settings().describe(), plan.describe(), target.toString(),
                mode.label(), result.rows(), result.bytes(), ms).print(run.out(), run.json());
        } catch (SQLException | RuntimeException e) {
            var error = SqlErrors.failure("Copying " + plan.describe() + " into " + target, e);
            recordFailure(runs, error.getMessage());
            throw error;
        } finally {
            closeSession();
        }
    }

    private CopyPipe.Result attempt(int attempt, ReadPlan firstPlan, TableRef target, WriteMode mode, BronzeMetadata metadata,
                                    RunLog runs) throws SQLException {
        try (Connection connection = warehouse.connect();
             StreamLock lock = StreamLock.acquire(connection, target.toString(), target.schema())) {
            if (attempt > 1) {
                run.warn("attempt " + attempt + " of the load of " + target + " after a connection failure");
                Optional<CopyPipe.Result> committed = runs.committedResult(connection, run.runId());
                if (committed.isPresent()) {
                    return committed.get();
                }
            }
            runs.abandonStale(connection, target.toString(), run.runId());
            ReadPlan plan = attempt == 1 && session != null ? firstPlan : plan(firstPlan.selection());
            connection.setAutoCommit(false);
            try {
                long preparing = System.nanoTime();
                var load = new BronzeLoad(Sql.using(connection), plan, target, mode, metadata);
                CopyIn in = connection.unwrap(PGConnection.class).getCopyAPI().copyIn(load.prepare());
                CopyOut out = startCopy(plan, in);
                long copying = System.nanoTime();
                var progress = new Progress(run.err(), run.terminal(), plan.describe(), plan.estimatedRows());
                CopyPipe.Result result = CopyPipe.pump(out, in, progress);
                progress.done();
                long finishing = System.nanoTime();
                load.finish();
                runs.succeed(connection, run.runId(), result.rows(), result.bytes(), new LinkedHashMap<>());
                connection.commit();
                run.info("prepared %s in %d ms, copied %,d rows in %d ms, finished and committed in %d ms".formatted(target,
                    (copying - preparing) / 1_000_000, result.rows(), (finishing - copying) / 1_000_000, millisSince(finishing)));
                return result;
            } catch (DataAccessException e) {
                rollbackQuietly(connection, e);
                // jOOQ wraps driver errors; unwrapped, a lost connection is seen as one and retried.
                if (e.getCause() instanceof SQLException sql) {
                    throw sql;
                }
                throw e;
            } catch (SQLException | RuntimeException e) {
                rollbackQuietly(connection, e);
                throw e;
            }
        }
    }

    private CopyOut startCopy(ReadPlan plan, CopyIn in) throws SQLException {
        try {
            return session.startCopy(plan);
        } catch (SQLException e) {
            in.cancelCopy();
            throw e;
        }
    }

    private void recordFailure(RunLog runs, String error) {
        try (Connection connection = warehouse.connect()) {
            runs.fail(connection, run.runId(), error);
        } catch (SQLException | RuntimeException e) {
            run.warn("could not record the failure in extraction_runs: " + SqlErrors.serverMessage(e));
        }
    }

    private static void rollbackQuietly(Connection connection, Exception failure) {
        try {
            connection.rollback();
        } catch (SQLException e) {
            failure.addSuppressed(e);
        }
    }

    private static long millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }

    private void closeSession() {
        if (session != null) {
            session.close();
            session = null;
        }
    }
}
