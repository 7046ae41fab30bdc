package datakit.run;

import datakit.bronze.BronzeLoad;
import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeWrite;
import datakit.bronze.WriteMode;
import datakit.cli.DatakitException;
import datakit.cli.ExitCode;
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
import java.util.Map;
import java.util.Optional;
import org.jooq.exception.DataAccessException;

/**
 * A full extract: plan a read on the source, then stream it into a bronze table in one warehouse
 * transaction that also marks the run succeeded. A failure that may pass (a lost connection) retries
 * the whole load on fresh connections; nothing of a failed attempt is ever committed.
 */
public final class FullExtract {
    private static final String EXTRACTION_TYPE = "full";

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
        BronzeLoad.checkNames(plan, target);
        DatakitException.check(mode != WriteMode.MERGE,
            "%s writes --mode replace or append; merging by key is what postgres-incremental does.", run.datakit());
        var metadata = BronzeMetadata.of(run.runId(), source.settings().describe(),
            plan.table().map(TableRef::schema), plan.table().map(TableRef::table), EXTRACTION_TYPE);
        if (run.dryRun()) {
            printPlan(plan, target, mode, metadata);
            return;
        }
        long migrating = System.nanoTime();
        Migrations.apply(warehouse.dataSource(), target.schema()).forEach(m -> run.info("applied migration " + m + " to " + target.schema()));
        run.info("checked the migrations of %s in %d ms".formatted(target.schema(), millisSince(migrating)));
        var runs = new RunLog(target.schema());
        var record = new RunLog.RunRecord(run.runId(), run.datakit(), source.settings().describe(), plan.table().map(TableRef::toString),
            target.toString(), EXTRACTION_TYPE, mode.label(), Map.of("copy", plan.copySql(), "estimated_rows", plan.estimatedRows()));
        runs.start(warehouse, record);
        long started = System.nanoTime();
        try {
            CopyPipe.Result result = warehouse.retry().run(attempt -> attempt(attempt, plan, target, mode, metadata, runs));
            new RunSummary("succeeded", run.datakit(), run.runId(), source.settings().describe(), plan.describe(), target.toString(),
                mode.label(), result.rows(), result.bytes(), millisSince(started), Map.of()).print(run.out(), run.json());
        } catch (SQLException | RuntimeException e) {
            var error = SqlErrors.failure("Copying " + plan.describe() + " into " + target, e);
            runs.recordFailure(warehouse, run, error.getMessage());
            throw error;
        } finally {
            closeSession();
        }
    }

    private CopyPipe.Result attempt(int attempt, ReadPlan firstPlan, TableRef target, WriteMode mode, BronzeMetadata metadata,
                                    RunLog runs) throws SQLException {
        String stream = target.toString();
        try {
            return warehouse.inTransaction(connection -> {
                lockStream(connection, stream, runs);
                if (attempt > 1) {
                    run.warn("attempt " + attempt + " of the load of " + target + " after a connection failure");
                    Optional<CopyPipe.Result> committed = runs.committedResult(connection, run.runId());
                    if (committed.isPresent()) {
                        return committed.get();
                    }
                }
                runs.abandonStale(connection, stream, run.runId());
                // Read in a snapshot taken after the lock: a run that waited must not load data older than
                // what the run before it committed.
                ReadPlan plan = plan(firstPlan.selection());
                var load = new BronzeLoad(Sql.using(connection), plan, target, BronzeWrite.of(mode), metadata);
                if (load.existing().isPresent()) {
                    StreamGuard.check(runs, connection, stream, plan.table().map(TableRef::toString), mode);
                }
                if (!load.schemaChanges().isEmpty()) {
                    load.applySchemaChanges();
                    connection.commit();
                    lockStream(connection, stream, runs);
                    plan = plan(firstPlan.selection());
                    load = new BronzeLoad(Sql.using(connection), plan, target, BronzeWrite.of(mode), metadata);
                }
                CopyPipe.Result result = copy(connection, load, plan, target);
                long finishing = System.nanoTime();
                load.finish(result.rows());
                runs.succeed(connection, run.runId(), result.rows(), result.bytes());
                run.info("put %s in place in %d ms; committing".formatted(target, millisSince(finishing)));
                return result;
            });
        } catch (SQLException | RuntimeException e) {
            // Neither connection is trusted again after a failed attempt.
            closeSession();
            throw e;
        }
    }

    private void lockStream(Connection transaction, String stream, RunLog runs) {
        if (!StreamLock.tryForTransaction(transaction, stream)) {
            throw StreamLock.busy(transaction, stream, runs, run.runId());
        }
    }

    /** Streams the rows, then ends the source transaction so it holds no lock while bronze is swapped. */
    private CopyPipe.Result copy(Connection connection, BronzeLoad load, ReadPlan plan, TableRef target) throws SQLException {
        long copying = System.nanoTime();
        CopyPipe.Result result = CopyIntoBronze.copy(run, connection, session, plan, load.prepare());
        closeSession();
        run.info("copied %,d rows into %s in %d ms".formatted(result.rows(), target, millisSince(copying)));
        return result;
    }

    private void printPlan(ReadPlan plan, TableRef target, WriteMode mode, BronzeMetadata metadata) {
        try (Connection connection = warehouse.connect()) {
            var load = new BronzeLoad(Sql.using(connection), plan, target, BronzeWrite.of(mode), metadata);
            DryRun.print(run, source.settings(), warehouse.settings(), plan, target, mode, load,
                Migrations.pending(warehouse.dataSource(), target.schema()));
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Inspecting the warehouse " + warehouse.settings().describe(), e);
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
