package datakit.incremental;

import datakit.bookkeeping.RunLog;
import datakit.bronze.BronzeLoad;
import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
import datakit.bronze.BronzeWrite;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.ConflictPolicy;
import datakit.bronze.WriteMode;
import datakit.checkpoint.Checkpoint;
import datakit.checkpoint.CheckpointStore;
import datakit.db.Database;
import datakit.db.Migrations;
import datakit.db.Retry;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.run.DryRun;
import datakit.run.JsonLoad;
import datakit.run.Landings;
import datakit.run.RecordedRun;
import datakit.source.IncrementalSource;
import datakit.source.ReadPlan;
import datakit.source.Selection;
import datakit.source.SourceProgress;
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
 * An incremental load: the rows past the stream's checkpoint, read in (cursor, key) order from one source
 * snapshot and committed in chunks, each in one warehouse transaction with the checkpoint that ends it, so
 * a run killed at 90 % resumes at 90 % and no row is loaded twice or skipped. Each attempt holds the stream's
 * lock; a connection failure resumes from the last committed chunk. A checkpoint that cannot be used
 * stops the run, or, when asked, turns it into a full refresh that says why.
 */
public final class IncrementalExtract {
    static final String EXTRACTION_TYPE = "incremental";

    private final RunContext run;
    private final Database source;
    private final Database warehouse;

    public IncrementalExtract(RunContext run, Database source, Database warehouse) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
    }

    /** Loads what changed since the last run of the stream into {@code target}; with --dry-run, prints the plan. */
    public void load(Increment asked, TableRef target, WriteMode mode, SchemaPolicy onSchemaChange) {
        checkAsked(run.datakit(), asked, mode);
        var json = new JsonLoad(run, target, asked.fullRefresh().isEmpty());
        Checked checked = checked(asked, target, mode, onSchemaChange, json);
        if (run.dryRun()) {
            return;
        }
        Increment increment = checked.increment();
        Selection selection = increment.selection();
        var record = new RunLog.RunRecord(run.runId(), run.datakit(), source.settings().describe(),
            selection.table().map(TableRef::toString), target.toString(), EXTRACTION_TYPE, mode.label(),
            Map.of("cursor", increment.cursorField().orElse("xmin")));
        var totals = new RunTotals(json, run, mode);
        checked.rowSecurity().ifPresent(note -> totals.details.put("row_security", note));
        RecordedRun.run(run, warehouse, target.schema(), record, runs -> {
            loadAndSummarize(increment, target, mode, onSchemaChange, runs, totals, json);
            return null;
        }, e -> SqlErrors.loadFailure("Loading " + selection.describe() + " incrementally into " + target, e, source, warehouse));
    }

    /**
     * The refusals that need no database: the write mode, a lookback that --on-conflict fail would stop at, and what an
     * incremental load cannot do to a read; checked first by a load, and before any table by a load over a set.
     */
    public static void checkAsked(String datakit, Increment asked, WriteMode mode) {
        DatakitException.check(mode == WriteMode.APPEND || mode == WriteMode.MERGE,
            "%s writes --mode merge (one row per key, the default) or append (every version as history).", datakit);
        DatakitException.check(asked.lookback().isEmpty() || mode == WriteMode.APPEND || asked.onConflict() != ConflictPolicy.FAIL,
            "--lookback reads rows again, which --on-conflict fail would stop at. Use --on-conflict overwrite or skip with a lookback.");
        DatakitException.check(asked.selection().mappings().isEmpty(), "--rename and --cast work with full and partitioned loads; "
            + "an incremental load keeps the source's names and types, which its checkpoints refer to. Rename and cast in silver.");
        DatakitException.check(asked.selection().explode().isEmpty() && !asked.selection().profile(), "--explode and --profile "
            + "work on whole tables: run them with a full extract (no --cursor-field or --sync-mode).");
    }

    private void loadAndSummarize(Increment increment, TableRef target, WriteMode mode, SchemaPolicy onSchemaChange, RunLog runs,
                                  RunTotals totals, JsonLoad json)
            throws SQLException {
        long started = System.nanoTime();
        Retry.forLoad(source.retry(), warehouse.retry()).run(attempt -> {
            new IncrementalAttempt(run, source, warehouse, increment, target, mode, onSchemaChange, runs, totals).run();
            return null;
        }, (attempt, failure) -> run.warn("attempt %d of the load of %s after %s; it resumes from its last committed part"
            .formatted(attempt, target, Retry.cause(failure))));
        runs.sayRename(run, totals.details);
        new RunSummary("succeeded", run.datakit(), run.runId(), source.settings().describe(), increment.selection().describe(),
            target.toString(), mode.label(), totals.rows, totals.bytes, (System.nanoTime() - started) / 1_000_000, totals.details).print(run);
        json.printAfterSummary();
    }

    /** The increment as checked against the source, and the policies that limit what its role reads. */
    private record Checked(Increment increment, Optional<String> rowSecurity) {
    }

    /**
     * The increment, checked against the source (and with --dry-run, the plan printed) in a snapshot of its own;
     * a hot standby's recovery conflict is retried.
     */
    private Checked checked(Increment asked, TableRef target, WriteMode mode, SchemaPolicy onSchemaChange, JsonLoad json) {
        try {
            return source.retry().run(attempt -> {
                // The dry run asks, as the run does, what the source had committed before its snapshot (see IncrementalAttempt).
                Optional<Checkpoint> stored = run.dryRun() ? storedCheckpoint(target) : Optional.empty();
                try (SourceSession session = run.dryRun() ? SourceSession.beginAfterProgress(source,
                        CheckpointCheck.transactionsRead(stored)) : SourceSession.begin(source)) {
                    Increment increment = withKeysSampled(asked, session, json);
                    Optional<String> rowSecurity = session.rowSecurityNote(increment.selection());
                    var src = IncrementalSource.open(session, increment.selection(), increment.cursorField(), increment.keys());
                    checkOptions(increment, src, target);
                    if (run.dryRun()) {
                        printPlan(increment, target, mode, onSchemaChange, src, stored, session.progress());
                    }
                    return new Checked(increment, rowSecurity);
                }
            }, (attempt, failure) -> run.warn("attempt %d of planning the load of %s after %s".formatted(attempt, target, Retry.cause(failure))));
        } catch (SQLException e) {
            throw SqlErrors.failure("Planning the incremental load of " + asked.selection().describe(), e, source);
        }
    }

    /**
     * The increment with its flattened keys sampled now, over the whole table (with the user's --where):
     * every chunk of every attempt then makes the same columns; those bronze already has keep their types,
     * unless a full refresh rebuilds the table with the types found now.
     */
    private Increment withKeysSampled(Increment increment, SourceSession session, JsonLoad json) {
        Selection selection = increment.selection();
        if (selection.flatten().isEmpty()) {
            return increment;
        }
        return increment.over(session.plan(json.keepingBronzeTypes(warehouse, selection)).selection());
    }

    /** Checks that need the source but write nothing, so a bad option fails before any bookkeeping. */
    private void checkOptions(Increment increment, IncrementalSource src, TableRef target) {
        BronzeLoad.checkNames(src.columns(), increment.selection().describe(), target);
        DatakitException.check(increment.lookback().isEmpty() || src.timeCursor(),
            "--lookback needs a timestamp, timestamptz or date cursor; %s is %s.", src.cursorColumn().orElse("xmin"),
            src.cursorType().orElse("a transaction id"));
        DatakitException.check(increment.chunkRows().isEmpty() || !increment.xmin(),
            "--chunk-rows needs a cursor to order rows by; xmin mode loads the changes in one transaction.");
        increment.initialValue().ifPresent(v -> src.checkCursorValue(v, "--initial-value"));
        if (src.cursorType().filter(t -> t.equals("date")).isPresent() && increment.lookback().isEmpty()) {
            run.warn("a date cursor repeats its value all day: rows changed later on the checkpoint's day with a smaller key are "
                + "not read again unless you add --lookback P1D (merge mode absorbs the re-reads)");
        }
    }

    /**
     * The load the run makes into the bronze table, built and checked before any row is read, by the run and its dry run
     * alike: a merge-mode full refresh ({@code replacesTable}) builds the table anew, refused while views depend on it; any
     * other load adds to the table as it is, refused where a column's type changed under it. A run that finds no rows
     * refuses what one that finds some would.
     */
    static BronzeLoad decidedLoad(Connection connection, ReadPlan plan, TableRef target, BronzeWrite write, boolean replacesTable,
                                  BronzeMetadata metadata) {
        BronzeWrite how = replacesTable ? write.inMode(WriteMode.REPLACE) : write;
        return new BronzeLoad(Sql.using(connection), Landings.of(plan), target, how, metadata);
    }

    /** What the rows of {@code plan} land with: the run, the source, and where the part's read started ({@code _bronze_checkpoint}). */
    static BronzeMetadata metadata(RunContext run, Database source, ReadPlan plan, String readAfter) {
        return new BronzeMetadata(run.runId(), source.settings().describe(), plan.table().map(TableRef::schema),
            plan.table().map(TableRef::table), EXTRACTION_TYPE, Optional.of(readAfter));
    }

    /** The stream's checkpoint, which the dry run reads before it takes its snapshot, as the run does. */
    private Optional<Checkpoint> storedCheckpoint(TableRef target) {
        try {
            return warehouse.inTransaction(connection -> new CheckpointStore(target.schema()).peek(connection, target.toString()));
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Inspecting the warehouse " + warehouse.settings().describe(), e, warehouse);
        }
    }

    /**
     * --dry-run: the stored checkpoint, the delta query with its bound values, the estimate, and whether the source is behind
     * the checkpoint, which the run would load nothing from; writes nothing.
     */
    private void printPlan(Increment increment, TableRef target, WriteMode mode, SchemaPolicy onSchemaChange, IncrementalSource src,
                           Optional<Checkpoint> stored,
                           SourceProgress progress) {
        try {
            warehouse.inTransaction(connection -> {
                printPlan(connection, increment, target, mode, onSchemaChange, src, stored, progress);
                return null;
            });
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Inspecting the warehouse " + warehouse.settings().describe(), e, warehouse);
        }
    }

    private void printPlan(Connection connection, Increment increment, TableRef target, WriteMode mode, SchemaPolicy onSchemaChange,
                           IncrementalSource src,
                           Optional<Checkpoint> stored, SourceProgress progress) {
        Optional<BronzeTable> existing = BronzeTable.inspect(Sql.using(connection), target);
        var extras = new LinkedHashMap<String, String>();
        extras.put("follows", increment.xmin() ? "xmin (transaction ids)"
            : src.cursorColumn().orElseThrow() + " " + src.cursorType().orElseThrow() + ", ties by " + String.join(", ", src.tieColumns()));
        extras.put("checkpoint", stored.map(Checkpoint::describe).orElse("none: the first run reads everything"
            + increment.initialValue().map(v -> " from " + v).orElse("")));
        var runs = new RunLog(target.schema());
        Optional<String> refresh = CheckpointCheck.fullRefreshReason(increment, mode, src, stored, existing, runs, connection,
            target.toString());
        runs.sayRename(run, new LinkedHashMap<>());
        refresh.ifPresent(r -> extras.put("full refresh", "would run: " + r));
        if (refresh.isEmpty()) {
            CheckpointCheck.behind(stored, progress, src).ifPresent(why -> extras.put("behind", why + CheckpointCheck.BEHIND_PLAN));
        }
        if (refresh.isEmpty()) {
            stored.map(c -> src.valuesChangedSince(c).stream().filter(column -> mode == WriteMode.MERGE || c.columnsRead().containsKey(column))
                    .toList()).filter(columns -> !columns.isEmpty())
                .ifPresent(columns -> extras.put("values changed", (mode == WriteMode.MERGE ? "would be given the source's values of "
                    : "changed without rows written, which the history keeps as they were: ") + String.join(", ", columns)));
        }
        ReadPlan delta = src.read(refresh.isPresent() ? List.of() : ReadStart.of(increment, src, stored).predicates());
        var metadata = metadata(run, source, delta, "");
        var write = new BronzeWrite(mode, src.keyColumns(), increment.onConflict(), onSchemaChange);
        var load = decidedLoad(connection, delta, target, write, refresh.isPresent() && mode == WriteMode.MERGE, metadata);
        DryRun.print(run, source.settings(), warehouse.settings(), delta, target, mode, load,
            Migrations.pending(warehouse.dataSource(), target.schema()), extras);
    }
}
