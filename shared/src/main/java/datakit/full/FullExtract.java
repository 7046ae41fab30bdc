package datakit.full;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.StreamGuard;
import datakit.bookkeeping.StreamLock;
import datakit.bronze.BronzeLoad;
import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeWrite;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.db.CopyPipe;
import datakit.db.Database;
import datakit.db.Migrations;
import datakit.db.ReplayLag;
import datakit.db.Retry;
import datakit.db.SqlErrors;
import datakit.db.TransactionSettings;
import datakit.error.DatakitException;
import datakit.json.KeyProfile;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.run.CopyIntoBronze;
import datakit.run.DryRun;
import datakit.run.JsonLoad;
import datakit.run.Landings;
import datakit.run.RecordedRun;
import datakit.run.SchemaChangeNotes;
import datakit.source.Part;
import datakit.source.PartitionedSource;
import datakit.source.ReadPlan;
import datakit.source.Selection;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
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
    /** The exported snapshot every read of this extract imports, when it is one table of a set read at one point in time. */
    private final Optional<SharedSnapshot> snapshot;
    /** When the table is big enough to be read in block ranges at once. */
    private final Splitting splitting;
    private SourceSession session;
    /** The staging table the current attempt committed for copies from several connections: dropped if the attempt fails. */
    private Optional<TableRef> sharedStaging = Optional.empty();
    /** How far behind its primary the snapshot of the last plan was, when the source is a hot standby. */
    private Optional<ReplayLag> replayLag = Optional.empty();
    /** With --enable-row-security: the table whose policies limited the current attempt's read. */
    private Optional<String> rowSecurity = Optional.empty();

    public FullExtract(RunContext run, Database source, Database warehouse) {
        this(run, source, warehouse, Optional.empty(), Splitting.none());
    }

    /**
     * An extract whose reads see what the open transaction that exported {@code snapshot} sees (a table of a set), if given,
     * and which reads a big table in block ranges at once as {@code splitting} allows.
     */
    public FullExtract(RunContext run, Database source, Database warehouse, Optional<SharedSnapshot> snapshot, Splitting splitting) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
        this.snapshot = snapshot;
        this.splitting = splitting;
    }

    /** Plans the read in a read-only snapshot that the copy will use too; a hot standby's recovery conflict is retried. */
    public ReadPlan plan(Selection selection) {
        try {
            return source.retry().run(attempt -> planOnce(selection),
                (attempt, failure) -> run.warn("attempt %d of planning the read of %s after %s".formatted(attempt, selection.describe(),
                    Retry.cause(failure))));
        } catch (SQLException e) {
            throw SqlErrors.failure("Planning the read of " + selection.describe() + " on the source " + source.settings().describe(), e, source);
        }
    }

    private ReadPlan planOnce(Selection selection) {
        closeSession();
        long started = System.nanoTime();
        session = SourceSession.begin(source, snapshot.map(SharedSnapshot::id));
        try {
            if (snapshot.isPresent()) {
                selection.table().ifPresent(session::lockSharedNowait);
            }
            replayLag = session.replayLag();
            ReadPlan plan = session.plan(selection);
            rowSecurity = session.rowSecurityNote(selection);
            run.info("planned the read of %s in %d ms: %s".formatted(plan.describe(), millisSince(started), plan.copySql()));
            return plan;
        } catch (RuntimeException e) {
            // A plan refused gives its connection back: the loads of a set go on with the pool.
            closeSession();
            throw e;
        }
    }

    /** Loads the planned rows into {@code target}; with {@code --dry-run}, prints the plan instead. */
    public void load(ReadPlan plan, TableRef target, WriteMode mode, SchemaPolicy onSchemaChange) {
        try {
            loadPlanned(plan, target, mode, onSchemaChange);
        } finally {
            // Also when the load is refused before it starts, or only printed: its source session goes back to the pool.
            closeSession();
        }
    }

    private void loadPlanned(ReadPlan plan, TableRef target, WriteMode mode, SchemaPolicy onSchemaChange) {
        BronzeLoad.checkNames(Landings.of(plan), target);
        DatakitException.check(mode != WriteMode.MERGE,
            "%s writes --mode replace or append; merging by key is what postgres-incremental does.", run.datakit());
        var metadata = BronzeMetadata.of(run.runId(), source.settings().describe(),
            plan.table().map(TableRef::schema), plan.table().map(TableRef::table), EXTRACTION_TYPE);
        var stream = new Stream(target, BronzeWrite.of(mode).onSchemaChange(onSchemaChange), metadata,
            new JsonLoad(run, target, mode == WriteMode.APPEND), new SchemaChangeNotes(run, mode));
        if (run.dryRun()) {
            printPlan(plan, stream);
            return;
        }
        var recorded = new LinkedHashMap<String, Object>(Map.of("copy", plan.copySql(), "estimated_rows", plan.estimatedRows()));
        List<String> childTables = stream.json().childTables(plan);
        if (!childTables.isEmpty()) {
            // Child tables belong to this stream: a later load of one of them as a stream of its own is refused.
            recorded.put("child_tables", childTables);
        }
        var record = new RunLog.RunRecord(run.runId(), run.datakit(), source.settings().describe(), plan.table().map(TableRef::toString),
            target.toString(), EXTRACTION_TYPE, mode.label(), recorded);
        try {
            RecordedRun.run(run, warehouse, target.schema(), record, runs -> {
                copyAndSummarize(plan, stream, runs);
                return null;
            }, e -> SqlErrors.loadFailure("Copying " + plan.describe() + " into " + target, e, source, warehouse));
        } finally {
            closeSession();
        }
    }

    /** The stream every attempt of the run loads: its bronze table, how, with which metadata, and what JSON adds. */
    private record Stream(TableRef target, BronzeWrite write, BronzeMetadata metadata, JsonLoad json, SchemaChangeNotes schemaChanges) {
        String name() {
            return target.toString();
        }

        WriteMode mode() {
            return write.mode();
        }
    }

    /** The loads of one attempt, from one plan: the bronze table's, and those of its child tables ({@code --explode}). */
    private record Loads(ReadPlan plan, BronzeLoad load, JsonLoad.Children children) {
    }

    private void copyAndSummarize(ReadPlan plan, Stream stream, RunLog runs) throws SQLException {
        long started = System.nanoTime();
        Retry retry = Retry.forLoad(source.retry(), warehouse.retry());
        CopyPipe.Result result = retry.run(attempt -> attempt(attempt, plan, stream, runs),
            (attempt, failure) -> run.warn("attempt %d of the load of %s after %s".formatted(attempt, stream.target(),
                Retry.cause(failure))));
        stream.json().committed();
        var details = new LinkedHashMap<String, Object>(readNotes());
        stream.json().addTo(details);
        stream.schemaChanges().addTo(details);
        runs.sayRename(run, details);
        new RunSummary("succeeded", run.datakit(), run.runId(), source.settings().describe(), plan.describe(), stream.name(),
            stream.mode().label(), result.rows(), result.bytes(), millisSince(started), details).print(run);
        stream.json().printAfterSummary();
    }

    /** What the run record and the summary say of the read itself: a standby's replay lag, rows limited by policies. */
    private Map<String, Object> readNotes() {
        var notes = new LinkedHashMap<String, Object>();
        replayLag.ifPresent(lag -> notes.put("standby", lag));
        rowSecurity.ifPresent(note -> notes.put("row_security", note));
        return notes;
    }

    private CopyPipe.Result attempt(int attempt, ReadPlan firstPlan, Stream stream, RunLog runs) throws SQLException {
        try {
            return warehouse.inTransaction(connection -> {
                lockStream(connection, stream.name(), runs);
                if (attempt > 1) {
                    Optional<CopyPipe.Result> committed = runs.committedResult(connection, run.runId());
                    if (committed.isPresent()) {
                        return committed.get();
                    }
                }
                runs.abandonStale(connection, stream.name(), run.runId());
                snapshot.ifPresent(shared -> refuseOlderThanBronze(connection, stream, runs, shared));
                dropSharedStaging(connection, runs.sharedStagingOfUnfinishedRuns(connection, stream.name()));
                return copyAndFinish(connection, decide(connection, firstPlan, stream, runs), stream, runs);
            });
        } catch (SQLException | RuntimeException e) {
            // Neither connection is trusted again after a failed attempt.
            closeSession();
            dropSharedStagingAfterFailure(e);
            throw e;
        } finally {
            sharedStaging = Optional.empty();
        }
    }

    /**
     * A table of a set whose stream another run loaded after the set's snapshot was taken holds newer rows than this load would
     * write: it is left as it is, and the table fails so that the next run of the set loads it from a newer snapshot.
     */
    private static void refuseOlderThanBronze(Connection connection, Stream stream, RunLog runs, SharedSnapshot shared) {
        runs.succeededSince(connection, stream.name(), shared.takenAt()).ifPresent(newer -> {
            throw DatakitException.notReady(("%s was loaded by run %s, which began after this set's snapshot was taken, so it holds "
                + "newer rows than this run read: it is left as that run wrote it. The next run of the set loads it from a newer "
                + "snapshot; load a table by one job only (leave it out of the set with --exclude-table).").formatted(stream.name(), newer));
        });
    }

    /** Drops the staging tables that loads of the stream committed and never put in place; the caller holds the stream. */
    private static void dropSharedStaging(Connection connection, List<String> tables) {
        for (String table : tables) {
            Sql.using(connection).execute("DROP TABLE IF EXISTS " + table);
        }
    }

    /** A failed attempt's committed staging table is dropped now; if the warehouse cannot be reached, the next load drops it. */
    private void dropSharedStagingAfterFailure(Exception failure) {
        sharedStaging.ifPresent(table -> {
            try {
                warehouse.inTransaction(connection -> {
                    dropSharedStaging(connection, List.of(table.sql()));
                    return null;
                });
            } catch (SQLException | RuntimeException e) {
                failure.addSuppressed(e);
            }
        });
    }

    /**
     * The attempt's loads, planned in a snapshot taken after the lock (a run that waited must not load data older than
     * what the run before it committed), refused as the dry run would, and with the bronze tables' schema changes
     * committed first.
     */
    private Loads decide(Connection connection, ReadPlan firstPlan, Stream stream, RunLog runs) throws SQLException {
        Loads loads = plannedAndChecked(connection, firstPlan, stream, runs);
        if (!loads.load().schemaChanges().isEmpty() || loads.children().haveSchemaChanges()) {
            loads.load().applySchemaChanges();
            loads.children().applySchemaChanges();
            said(loads, stream);
            // With the change: a run that then fails still says what it changed.
            runs.note(connection, run.runId(), stream.schemaChanges().details());
            // The commit ends the transaction's locks: every stream of the load is locked and checked again.
            warehouse.commitAndContinue(connection);
            lockStream(connection, stream.name(), runs);
            loads = plannedAndChecked(connection, firstPlan, stream, runs);
        }
        return loads;
    }

    /** The load planned in a new snapshot, its child tables' streams locked too, and its refusals made. */
    private Loads plannedAndChecked(Connection connection, ReadPlan firstPlan, Stream stream, RunLog runs) {
        Loads loads = loads(connection, planAgain(connection, firstPlan, stream), stream);
        for (TableRef child : loads.children().loads().keySet()) {
            lockStream(connection, child.toString(), runs);
        }
        refuseWhatTheRunWould(connection, loads, stream, runs);
        return loads;
    }

    /** The first plan's selection planned again in a new snapshot, its flattened keys keeping the types bronze gives them. */
    private ReadPlan planAgain(Connection connection, ReadPlan firstPlan, Stream stream) {
        return planOnce(stream.json().keepingBronzeTypes(connection, firstPlan.selection()));
    }

    private static Loads loads(Connection connection, ReadPlan plan, Stream stream) {
        return new Loads(plan, new BronzeLoad(Sql.using(connection), Landings.of(plan), stream.target(), stream.write(), stream.metadata()),
            stream.json().children(connection, plan, stream.write(), stream.metadata()));
    }

    /** Says the schema changes the loads recorded, the bronze table's and its child tables'. */
    private static void said(Loads loads, Stream stream) {
        stream.schemaChanges().said(stream.target(), loads.load().recorded());
        loads.children().loads().forEach((table, load) -> stream.schemaChanges().said(table, load.recorded()));
    }

    /**
     * Streams the rows, then those of the child tables from the same snapshot, then ends the source transaction so it
     * holds no lock while bronze is swapped; then puts every table in place and marks the run succeeded.
     */
    private CopyPipe.Result copyAndFinish(Connection connection, Loads loads, Stream stream, RunLog runs) throws SQLException {
        List<KeyProfile> profiles = stream.json().profiles(session, loads.plan());
        long copying = System.nanoTime();
        CopyPipe.Result result = copy(connection, loads, stream, runs);
        run.info("copied %,d rows into %s in %d ms".formatted(result.rows(), stream.target(), millisSince(copying)));
        loads.children().copy(run, connection, session);
        closeSession();
        long finishing = System.nanoTime();
        loads.load().finish(result.rows());
        stream.json().finished(connection, loads.load(), loads.children(), profiles);
        said(loads, stream);
        var notes = readNotes();
        stream.schemaChanges().addTo(notes);
        runs.succeed(connection, run.runId(), result.rows(), result.bytes(), notes);
        run.info("put %s in place in %d ms; committing".formatted(stream.target(), millisSince(finishing)));
        return result;
    }

    /**
     * Copies the rows into the load's table in one stream, or, for a big table, in block ranges at once ({@link BlockRanges}):
     * the staging table is then committed first (noted in the run's record, so a load that dies is cleaned up by the next),
     * and the stream locked again, as the commit ended the transaction's lock.
     */
    private CopyPipe.Result copy(Connection connection, Loads loads, Stream stream, RunLog runs) throws SQLException {
        // Only a big table asks for the set's permit: a small one holding it for a moment left a big one beside it unsplit.
        List<Part> ranges = splitting.streams() > 1
            ? new PartitionedSource(session, loads.plan()).blockRangesWhenBig(splitting.streams(), splitting.fromBytes()) : List.of();
        if (!ranges.isEmpty() && splitting.permit().tryAcquire()) {
            try {
                Optional<String> copyIn = loads.load().prepareForParallelCopies();
                if (copyIn.isPresent()) {
                    return inBlockRanges(connection, loads, stream, runs, ranges, copyIn.get());
                }
            } finally {
                splitting.permit().release();
            }
        }
        return CopyIntoBronze.copy(run, connection, session, loads.plan(), loads.load().prepare());
    }

    private CopyPipe.Result inBlockRanges(Connection connection, Loads loads, Stream stream, RunLog runs, List<Part> ranges, String copyIn)
            throws SQLException {
        String shared = snapshot.map(SharedSnapshot::id).orElseGet(session::exportSnapshot);
        TableRef staging = loads.load().copyTarget();
        sharedStaging = Optional.of(staging);
        runs.note(connection, run.runId(), Map.of("staging", staging.sql()));
        warehouse.commitAndContinue(connection);
        // The commit ended the transaction's locks and settings: the stream and its child tables are locked again, and the
        // transaction may wait idle while the other ranges copy.
        lockStream(connection, stream.name(), runs);
        for (TableRef child : loads.children().loads().keySet()) {
            lockStream(connection, child.toString(), runs);
        }
        TransactionSettings.mayIdle(connection);
        return BlockRanges.copy(run, source, warehouse, connection, session, shared, loads.plan(), ranges, copyIn);
    }

    /**
     * The refusals of the load, made before anything is written, by the run and by its dry run alike: a table that holds another
     * stream or was loaded in another mode ({@link StreamGuard}), a column whose type changed under rows to be added; and what
     * the stream meets of a rename of its source table, which {@code runs} keeps.
     */
    private static void refuseWhatTheRunWould(Connection connection, Loads loads, Stream stream, RunLog runs) {
        Optional<String> reading = loads.plan().table().map(TableRef::toString);
        Optional<String> renamedFrom = loads.plan().selection().renamedFrom().map(TableRef::toString);
        runs.follows(StreamGuard.check(runs, connection, stream.name(), loads.load().existing().isPresent(), reading, renamedFrom,
            stream.mode()));
        loads.children().loads().forEach((table, each) -> {
            // A child table goes where its parent goes: a rename moves them together, and a new one has nothing to guard.
            if (each.existing().isPresent()) {
                StreamGuard.check(runs, connection, table.toString(), true, reading, renamedFrom, stream.mode());
            }
        });
    }

    private void lockStream(Connection transaction, String stream, RunLog runs) {
        if (!StreamLock.tryForTransaction(transaction, stream)) {
            throw StreamLock.busy(transaction, stream, runs, run.runId());
        }
    }

    private void printPlan(ReadPlan planned, Stream stream) {
        try {
            warehouse.inTransaction(connection -> {
                printPlan(connection, planned, stream);
                return null;
            });
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Inspecting the warehouse " + warehouse.settings().describe(), e, warehouse);
        }
    }

    private void printPlan(Connection connection, ReadPlan planned, Stream stream) {
        Selection kept = stream.json().keepingBronzeTypes(connection, planned.selection());
        ReadPlan plan = kept == planned.selection() ? planned : plan(kept);
        Loads loads = loads(connection, plan, stream);
        var runs = new RunLog(stream.target().schema());
        refuseWhatTheRunWould(connection, loads, stream, runs);
        runs.sayRename(run, new LinkedHashMap<>());
        DryRun.print(run, source.settings(), warehouse.settings(), plan, stream.target(), stream.mode(), loads.load(),
            Migrations.pending(warehouse.dataSource(), stream.target().schema()), loads.children().describe());
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
