package datakit.full;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.StreamGuard;
import datakit.bookkeeping.StreamLock;
import datakit.bronze.BronzeLoad;
import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeWrite;
import datakit.bronze.Landing;
import datakit.bronze.WriteMode;
import datakit.db.CopyPipe;
import datakit.db.Database;
import datakit.db.Migrations;
import datakit.db.ReplayLag;
import datakit.db.Retry;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.json.KeyProfile;
import datakit.json.KeyProfiles;
import datakit.report.KeyProfileTable;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.run.CopyIntoBronze;
import datakit.run.DryRun;
import datakit.run.Landings;
import datakit.run.RecordedRun;
import datakit.source.ReadPlan;
import datakit.source.Selection;
import datakit.source.SourceSession;
import datakit.sql.Identifiers;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
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
    /** How far behind its primary the snapshot of the last plan was, when the source is a hot standby. */
    private Optional<ReplayLag> replayLag = Optional.empty();
    /** Rows copied into each child table by the current attempt. */
    private final Map<String, Long> childRows = new LinkedHashMap<>();
    /** The JSON key profiles of the current attempt ({@code --profile}), and their drift since the last ones. */
    private Keys keys = new Keys(List.of(), Map.of());
    /** Values of each text column declared JSON that did not parse, in the current attempt. */
    private Map<String, Long> rejected = Map.of();
    /** With --enable-row-security: the table whose policies limited the current attempt's read. */
    private Optional<String> rowSecurity = Optional.empty();

    private record Keys(List<KeyProfile> profiles, Map<String, KeyProfiles.Drift> drifts) {
    }

    public FullExtract(RunContext run, Database source, Database warehouse) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
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
        session = SourceSession.begin(source);
        replayLag = session.replayLag();
        ReadPlan plan = session.plan(selection);
        rowSecurity = session.rowSecurityNote(selection);
        run.info("planned the read of %s in %d ms: %s".formatted(plan.describe(), millisSince(started), plan.copySql()));
        return plan;
    }

    /** Loads the planned rows into {@code target}; with {@code --dry-run}, prints the plan instead. */
    public void load(ReadPlan plan, TableRef target, WriteMode mode) {
        BronzeLoad.checkNames(Landings.of(plan), target);
        DatakitException.check(mode != WriteMode.MERGE,
            "%s writes --mode replace or append; merging by key is what postgres-incremental does.", run.datakit());
        var metadata = BronzeMetadata.of(run.runId(), source.settings().describe(),
            plan.table().map(TableRef::schema), plan.table().map(TableRef::table), EXTRACTION_TYPE);
        if (run.dryRun()) {
            printPlan(plan, target, mode, metadata);
            return;
        }
        var recorded = new LinkedHashMap<String, Object>(Map.of("copy", plan.copySql(), "estimated_rows", plan.estimatedRows()));
        if (!plan.children().isEmpty()) {
            // Child tables belong to this stream: a later load of one of them as a stream of its own is refused.
            recorded.put("child_tables", plan.children().stream().map(c -> childTarget(target, c).toString()).toList());
        }
        var record = new RunLog.RunRecord(run.runId(), run.datakit(), source.settings().describe(), plan.table().map(TableRef::toString),
            target.toString(), EXTRACTION_TYPE, mode.label(), recorded);
        try {
            RecordedRun.run(run, warehouse, target.schema(), record, runs -> {
                copyAndSummarize(plan, target, mode, metadata, runs);
                return null;
            }, e -> SqlErrors.loadFailure("Copying " + plan.describe() + " into " + target, e, source, warehouse));
        } finally {
            closeSession();
        }
    }

    private void copyAndSummarize(ReadPlan plan, TableRef target, WriteMode mode, BronzeMetadata metadata, RunLog runs) throws SQLException {
        long started = System.nanoTime();
        Retry retry = Retry.forLoad(source.retry(), warehouse.retry());
        CopyPipe.Result result = retry.run(attempt -> attempt(attempt, plan, target, mode, metadata, runs),
            (attempt, failure) -> run.warn("attempt %d of the load of %s after %s".formatted(attempt, target, Retry.cause(failure))));
        var details = new LinkedHashMap<String, Object>(readNotes());
        if (!childRows.isEmpty()) {
            details.put("child_tables", new LinkedHashMap<>(childRows));
        }
        if (!rejected.isEmpty()) {
            details.put("rejected", rejected);
        }
        keys.drifts().forEach((column, drift) -> details.put("drift " + column, drift.describe()));
        if (run.json()) {
            keys.profiles().forEach(p -> details.put("profile " + p.column(), Map.of("documents", p.documents(), "keys", p.describe())));
        }
        new RunSummary("succeeded", run.datakit(), run.runId(), source.settings().describe(), plan.describe(), target.toString(),
            mode.label(), result.rows(), result.bytes(), millisSince(started), details).print(run);
        if (!run.json()) {
            keys.profiles().forEach(p -> KeyProfileTable.print(run.out(), p));
        }
    }

    /** What the run record and the summary say of the read itself: a standby's replay lag, rows limited by policies. */
    private Map<String, Object> readNotes() {
        var notes = new LinkedHashMap<String, Object>();
        replayLag.ifPresent(lag -> notes.put("standby", lag));
        rowSecurity.ifPresent(note -> notes.put("row_security", note));
        return notes;
    }

    private CopyPipe.Result attempt(int attempt, ReadPlan firstPlan, TableRef target, WriteMode mode, BronzeMetadata metadata,
                                    RunLog runs) throws SQLException {
        String stream = target.toString();
        try {
            return warehouse.inTransaction(connection -> {
                lockStream(connection, stream, runs);
                if (attempt > 1) {
                    Optional<CopyPipe.Result> committed = runs.committedResult(connection, run.runId());
                    if (committed.isPresent()) {
                        return committed.get();
                    }
                }
                runs.abandonStale(connection, stream, run.runId());
                // Read in a snapshot taken after the lock: a run that waited must not load data older than
                // what the run before it committed.
                ReadPlan plan = planOnce(keepingBronzeTypes(connection, firstPlan.selection(), target, mode));
                var load = new BronzeLoad(Sql.using(connection), Landings.of(plan), target, BronzeWrite.of(mode), metadata);
                var children = childLoads(connection, plan, target, mode, metadata);
                for (ChildLoad child : children) {
                    lockStream(connection, child.target().toString(), runs);
                }
                refuseWhatTheRunWould(connection, plan, target, mode, load, children, runs);
                if (!load.schemaChanges().isEmpty() || children.stream().anyMatch(c -> !c.load().schemaChanges().isEmpty())) {
                    load.applySchemaChanges();
                    children.forEach(c -> c.load().applySchemaChanges());
                    warehouse.commitAndContinue(connection);
                    lockStream(connection, stream, runs);
                    plan = planOnce(keepingBronzeTypes(connection, firstPlan.selection(), target, mode));
                    load = new BronzeLoad(Sql.using(connection), Landings.of(plan), target, BronzeWrite.of(mode), metadata);
                    children = childLoads(connection, plan, target, mode, metadata);
                }
                List<KeyProfile> profiles = plan.selection().profile() ? session.profileJson(plan) : List.of();
                CopyPipe.Result result = copy(connection, load, plan, target, children);
                long finishing = System.nanoTime();
                load.finish(result.rows());
                rejected = load.rejected();
                for (ChildLoad child : children) {
                    child.load().finish(childRows.get(child.target().toString()));
                }
                keys = new Keys(profiles, new KeyProfiles(target.schema()).save(connection, stream, run.runId(), profiles));
                runs.succeed(connection, run.runId(), result.rows(), result.bytes(),
                    readNotes());
                run.info("put %s in place in %d ms; committing".formatted(target, millisSince(finishing)));
                return result;
            });
        } catch (SQLException | RuntimeException e) {
            // Neither connection is trusted again after a failed attempt.
            closeSession();
            throw e;
        }
    }

    /**
     * The refusals of the load, made before anything is written, by the run and by its dry run alike: a table that holds another
     * stream or was loaded in another mode ({@link StreamGuard}), a column whose type changed under rows to be added.
     */
    private static void refuseWhatTheRunWould(Connection connection, ReadPlan plan, TableRef target, WriteMode mode, BronzeLoad load,
                                              List<ChildLoad> children, RunLog runs) {
        var loads = new LinkedHashMap<TableRef, BronzeLoad>();
        loads.put(target, load);
        children.forEach(child -> loads.put(child.target(), child.load()));
        loads.forEach((table, each) -> {
            if (each.existing().isPresent()) {
                StreamGuard.check(runs, connection, table.toString(), plan.table().map(TableRef::toString), mode);
            }
            each.checkLoadable();
        });
    }

    /** Rows appended to a bronze table land in its columns as they are: flattened keys keep the types they have there. */
    private static Selection keepingBronzeTypes(Connection connection, Selection selection, TableRef target, WriteMode mode) {
        return mode == WriteMode.APPEND ? Landings.keepingFlattenedTypes(Sql.using(connection), target, selection) : selection;
    }

    private void lockStream(Connection transaction, String stream, RunLog runs) {
        if (!StreamLock.tryForTransaction(transaction, stream)) {
            throw StreamLock.busy(transaction, stream, runs, run.runId());
        }
    }

    /** A child table's load ({@code --explode}), in the parent's transaction and from its snapshot. */
    private record ChildLoad(ReadPlan plan, TableRef target, BronzeLoad load) {
    }

    private static List<ChildLoad> childLoads(Connection connection, ReadPlan plan, TableRef target, WriteMode mode, BronzeMetadata metadata) {
        return plan.children().stream().map(child -> {
            TableRef table = childTarget(target, child);
            Landing landing = Landings.of(child.plan());
            BronzeLoad.checkNames(landing, table);
            return new ChildLoad(child.plan(), table, new BronzeLoad(Sql.using(connection), landing, table, BronzeWrite.of(mode), metadata));
        }).toList();
    }

    /** {@code bronze.orders__tags}: the parent's name, two underscores, the exploded column's (cut to fit, with a hash). */
    private static TableRef childTarget(TableRef target, ReadPlan.Child child) {
        return target.withTable(Identifiers.fit(target.table() + "__" + child.suffix()));
    }

    /**
     * Streams the rows, then those of the child tables from the same snapshot, then ends the source
     * transaction so it holds no lock while bronze is swapped.
     */
    private CopyPipe.Result copy(Connection connection, BronzeLoad load, ReadPlan plan, TableRef target, List<ChildLoad> children)
            throws SQLException {
        long copying = System.nanoTime();
        CopyPipe.Result result = CopyIntoBronze.copy(run, connection, session, plan, load.prepare());
        run.info("copied %,d rows into %s in %d ms".formatted(result.rows(), target, millisSince(copying)));
        childRows.clear();
        for (ChildLoad child : children) {
            long started = System.nanoTime();
            long rows = CopyIntoBronze.copy(run, connection, session, child.plan(), child.load().prepare()).rows();
            childRows.put(child.target().toString(), rows);
            run.info("copied %,d rows into %s in %d ms".formatted(rows, child.target(), millisSince(started)));
        }
        closeSession();
        return result;
    }

    private void printPlan(ReadPlan planned, TableRef target, WriteMode mode, BronzeMetadata metadata) {
        try {
            warehouse.inTransaction(connection -> {
                printPlan(connection, planned, target, mode, metadata);
                return null;
            });
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Inspecting the warehouse " + warehouse.settings().describe(), e, warehouse);
        }
    }

    private void printPlan(Connection connection, ReadPlan planned, TableRef target, WriteMode mode, BronzeMetadata metadata) {
        Selection kept = keepingBronzeTypes(connection, planned.selection(), target, mode);
        ReadPlan plan = kept == planned.selection() ? planned : plan(kept);
        var load = new BronzeLoad(Sql.using(connection), Landings.of(plan), target, BronzeWrite.of(mode), metadata);
        List<ChildLoad> childLoads = childLoads(connection, plan, target, mode, metadata);
        refuseWhatTheRunWould(connection, plan, target, mode, load, childLoads, new RunLog(target.schema()));
        var children = new LinkedHashMap<String, String>();
        for (ChildLoad child : childLoads) {
            children.put("child " + child.target(), "%s columns, ~%,d rows: %s".formatted(child.plan().columns().stream()
                .map(c -> TableRef.display(c.name()) + " " + c.bronzeType()).collect(Collectors.joining(", ")),
                child.plan().estimatedRows(), child.plan().copySql()));
        }
        DryRun.print(run, source.settings(), warehouse.settings(), plan, target, mode, load,
            Migrations.pending(warehouse.dataSource(), target.schema()), children);
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
