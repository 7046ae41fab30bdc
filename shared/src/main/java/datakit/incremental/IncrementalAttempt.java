package datakit.incremental;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.StreamLock;
import datakit.bronze.Backfill;
import datakit.bronze.BronzeLoad;
import datakit.bronze.BronzeTable;
import datakit.bronze.BronzeWrite;
import datakit.bronze.Landing;
import datakit.bronze.SchemaChange;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.VanishedKeys;
import datakit.bronze.WriteMode;
import datakit.checkpoint.Checkpoint;
import datakit.checkpoint.CheckpointStore;
import datakit.checkpoint.CursorCheckpoint;
import datakit.checkpoint.Position;
import datakit.checkpoint.SourcePosition;
import datakit.checkpoint.XminCheckpoint;
import datakit.db.CopyPipe;
import datakit.db.Database;
import datakit.report.RunContext;
import datakit.run.CopyIntoBronze;
import datakit.run.Landings;
import datakit.source.IncrementalSource;
import datakit.source.ReadPlan;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jooq.exception.DataAccessException;

/**
 * One attempt of an incremental run, from the stream's committed checkpoint to the end: it takes the
 * stream's lock, then a source snapshot (never older than what the run before committed), decides
 * between reading incrementally and a full refresh, and commits each part with its checkpoint.
 */
final class IncrementalAttempt {
    private final RunContext run;
    private final Database source;
    private final Database warehouse;
    private final Increment increment;
    private final TableRef target;
    private final WriteMode mode;
    private final SchemaPolicy onSchemaChange;
    /** Columns whose values DDL changed without writing rows since the stored checkpoint, until the run refreshes them. */
    private List<String> valuesChanged = List.of();
    /** Whether the bronze table's columns change with this run, which a run that finds no rows must do too. */
    private boolean alters;
    /** Columns this attempt filled in every row of a merge table already. */
    private final Set<String> filled = new HashSet<>();
    private final RunLog runs;
    private final RunTotals totals;
    private final String stream;
    private final CheckpointStore store;
    private LockedConnection locked;
    private Connection connection;
    private SourceSession session;
    private IncrementalSource src;
    private BronzeWrite write;
    /** Where the source stood when this attempt's snapshot was taken, kept with every checkpoint it writes. */
    private Optional<SourcePosition> readAt;
    /** Columns the run that wrote the stored checkpoint read, which the source no longer has and bronze keeps. */

    IncrementalAttempt(RunContext run, Database source, Database warehouse, Increment increment, TableRef target, WriteMode mode,
                       SchemaPolicy onSchemaChange, RunLog runs, RunTotals totals) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
        this.increment = increment;
        this.target = target;
        this.mode = mode;
        this.onSchemaChange = onSchemaChange;
        this.runs = runs;
        this.totals = totals;
        this.stream = target.toString();
        this.store = new CheckpointStore(target.schema());
    }

    void run() throws SQLException {
        boolean healthy = false;
        locked = new LockedConnection(warehouse, StreamLock.exclusive(warehouse, stream, runs, run.runId()), totals);
        try {
            connection = locked.connect();
            locked.inTransaction(() -> runs.abandonStale(connection, stream, run.runId()));
            Optional<Checkpoint> stored = locked.inTransaction(() -> store.load(connection, stream));
            load(stored, decide(stored));
            healthy = true;
        } catch (DataAccessException e) {
            if (e.getCause() instanceof SQLException sql) {
                throw sql;
            }
            throw e;
        } finally {
            if (session != null) {
                session.close();
            }
            locked.close(healthy);
        }
    }

    /**
     * Takes the source snapshot and decides between reading from {@code stored} and a full refresh, whose reason it returns;
     * a load from the checkpoint is checked against the bronze table before any row is read.
     */
    private Optional<String> decide(Optional<Checkpoint> stored) throws SQLException {
        // The snapshot is taken after the lock: it sees everything the run before this one committed. What the source had
        // committed is asked just before it, so that everything the answer counts is in the snapshot; where the source stood
        // is read again in it, so that the snapshot holds nothing past what the checkpoints say.
        session = SourceSession.beginAfterProgress(source, CheckpointCheck.transactionsRead(stored));
        readAt = session.position();
        session.replayLag().ifPresent(lag -> totals.details.put("standby", lag));
        src = IncrementalSource.open(session, increment.selection(), increment.cursorField(), increment.keys());
        write = new BronzeWrite(mode, src.keyColumns(), increment.onConflict(), onSchemaChange);
        return locked.inTransaction(() -> {
            Optional<BronzeTable> existing = BronzeTable.inspect(Sql.using(connection), target);
            Optional<String> reason = CheckpointCheck.fullRefreshReason(increment, mode, src, stored, existing, runs, connection, stream);
            ReadPlan columns = src.read(List.of());
            alters = !IncrementalExtract.decidedLoad(connection, columns, target, write, reason.isPresent() && mode == WriteMode.MERGE,
                IncrementalExtract.metadata(run, source, columns, "")).schemaChanges().isEmpty();
            return reason;
        });
    }

    /**
     * Loads from the stored checkpoint, or everything again when {@code refresh} says why; from a source behind what the last
     * run read, nothing (see {@link CheckpointCheck#behind}).
     */
    private void load(Optional<Checkpoint> stored, Optional<String> refresh) throws SQLException {
        refresh.ifPresent(reason -> {
            totals.details.put("full_refresh", reason);
            run.warn("full refresh of " + target + ": " + reason);
        });
        if (refresh.isPresent() && mode == WriteMode.MERGE) {
            replaceWithEverything(stored);
            return;
        }
        // A refresh in append mode keeps the history and appends a complete copy.
        Optional<Checkpoint> from = refresh.isPresent() ? Optional.empty() : stored;
        // An append history has NULL in a column it gains; it says only of columns whose values changed in place.
        valuesChanged = from.map(c -> src.valuesChangedSince(c).stream()
            .filter(column -> mode == WriteMode.MERGE || c.columnsRead().containsKey(column)).toList()).orElse(List.of());
        from.filter(c -> !IncrementalSource.hasSchemaBaseline(c)).ifPresent(c -> {
            String said = "the checkpoint was written before checkpoints kept a fingerprint of the source's columns: values DDL "
                + "changed without writing rows before this run (an enum label renamed, a column added again with a DEFAULT) cannot "
                + "be found; this run takes the fingerprint, and --full-refresh reloads the table if there were such changes";
            totals.details.put("schema_baseline", said);
            run.warn(target + ": " + said);
        });
        Optional<String> behind = from.isEmpty() ? Optional.empty() : CheckpointCheck.behind(from, session.progress(), src);
        if (behind.isPresent()) {
            String said = behind.get() + CheckpointCheck.BEHIND_OUTCOME;
            totals.details.put("behind", said);
            totals.details.put("checkpoint", from.get().describe());
            run.warn(target + ": " + said);
        } else {
            Checkpoint reached = increment.xmin() ? loadUnseenTransactions(from, stored) : loadPastCursor(from, stored);
            totals.details.put("checkpoint", reached.describe());
            if (src.cursorNullable()) {
                loadNullCursorRows(reached);
            }
            if (increment.detectDeletes()) {
                markVanished();
            }
        }
        locked.inTransaction(() -> runs.succeed(connection, run.runId(), totals.rows, totals.bytes, totals.details));
    }

    /**
     * Cursor mode: the rows after {@code from} (or a lookback before it), in chunks, each committed with
     * the checkpoint at its last row; the first part replaces {@code stored}, which the stream held.
     */
    private Checkpoint loadPastCursor(Optional<Checkpoint> from, Optional<Checkpoint> stored) throws SQLException {
        // A stored checkpoint is taken on for what this run reads (its filter in the present form, the columns read now).
        CursorCheckpoint start = from.map(c -> ((CursorCheckpoint) c).reading(src.filter().text(), src.columnSchema()))
            .orElseGet(() -> new CursorCheckpoint(src.cursorColumn().orElseThrow(), src.cursorType().orElseThrow(), src.tieColumns(),
                Optional.empty(), src.filter().text(), src.columnSchema()))
            .readAt(readAt);
        Optional<Position> last = start.last();
        ReadStart readStart = ReadStart.of(increment, src, Optional.of(start));
        List<String> lower = readStart.predicates();
        String readAfter = readStart.describe();
        Optional<Position> high = src.highest(lower);
        if (high.isEmpty()) {
            if (!valuesChanged.isEmpty() || alters) {
                // No row to load, but columns to change or values to refresh: a part that reads nothing does it, with the checkpoint.
                loadPart(src.read(List.of("false")), readAfter, () -> store.advance(connection, stream, stored, start, run.runId()));
            } else if (!stored.equals(Optional.of(start))) {
                // Remember that the stream started, so a later run can tell a lost checkpoint from a first run, and where the
                // source stood, so a later run can tell a source behind this one.
                locked.inTransaction(() -> store.advance(connection, stream, stored, start, run.runId()));
            }
            return start;
        }
        List<Position> ends = readStart.partEnds(increment, src, high.get());
        Optional<Checkpoint> expected = stored;
        CursorCheckpoint reached = start;
        List<String> chunkLower = lower;
        for (int chunk = 1; chunk <= ends.size(); chunk++) {
            Position end = ends.get(chunk - 1);
            // Re-reading a lookback window must not move the checkpoint back.
            CursorCheckpoint after = last.isPresent() && !src.isAfter(end, last.get()) ? start : start.at(end);
            Optional<Checkpoint> before = expected;
            loadPart(src.read(with(chunkLower, src.upTo(end))), readAfter, () -> store.advance(connection, stream, before, after, run.runId()));
            run.info("part %d of %d committed, checkpoint %s".formatted(chunk, ends.size(), after.describe()));
            expected = Optional.of(after);
            reached = after;
            chunkLower = List.of(src.after(end));
            readAfter = after.describe();
        }
        totals.details.put("chunks", ends.size());
        return reached;
    }

    /** xmin mode: the rows written by transactions the stored snapshot did not see, in one part. */
    private Checkpoint loadUnseenTransactions(Optional<Checkpoint> from, Optional<Checkpoint> stored) throws SQLException {
        XminCheckpoint after = src.xminCheckpoint().readAt(readAt);
        ReadStart readStart = ReadStart.of(increment, src, from);
        loadPart(src.read(readStart.predicates()), readStart.describe(), () -> store.advance(connection, stream, stored, after, run.runId()));
        return after;
    }

    /** Rows whose cursor is NULL cannot be placed in cursor order: they are read on every run (documented). */
    private void loadNullCursorRows(Checkpoint reached) throws SQLException {
        long before = totals.rows;
        loadPart(src.read(List.of(src.cursorIsNull())), reached.describe(), () -> { });
        if (totals.rows > before) {
            totals.details.put("null_cursor_rows", totals.rows - before);
            if (mode == WriteMode.APPEND) {
                run.warn("%,d rows of %s have a NULL %s; they are read on every run, and append mode adds them each time"
                    .formatted(totals.rows - before, src.table(), src.cursorColumn().orElseThrow()));
            }
        }
    }

    /** Loads one part and commits it with whatever {@code alsoCommit} writes, such as its checkpoint. */
    private void loadPart(ReadPlan plan, String readAfter, Runnable alsoCommit) throws SQLException {
        Landing landing = Landings.of(plan);
        BronzeLoad.checkNames(landing, target);
        var metadata = IncrementalExtract.metadata(run, source, plan, readAfter);
        locked.inTransaction(() -> {
            var loading = new BronzeLoad(Sql.using(connection), landing, target, write, metadata);
            if (!loading.schemaChanges().isEmpty()) {
                loading.applySchemaChanges();
                backfillAdded(loading);
                totals.schemaChanges.said(target, loading.recorded());
                // With the change: a run that then fails still says what it changed.
                runs.note(connection, run.runId(), totals.schemaChanges.details());
                locked.commitAndContinue();
                loading = new BronzeLoad(Sql.using(connection), landing, target, write, metadata);
            }
            refreshChangedValues(loading);
            long copying = System.nanoTime();
            CopyPipe.Result result = copy(plan, loading.prepare());
            long written = loading.finish(result.rows());
            totals.schemaChanges.said(target, loading.recorded());
            alsoCommit.run();
            runs.progress(connection, run.runId(), totals.rows + result.rows(), totals.bytes + result.bytes());
            totals.pending(result, loading, written);
            run.info("copied and wrote %,d rows into %s in %d ms".formatted(result.rows(), target, (System.nanoTime() - copying) / 1_000_000));
        });
        totals.commitPending();
    }

    /** A full refresh in merge mode: the bronze table replaced by the whole source table, with its checkpoint, at once. */
    private void replaceWithEverything(Optional<Checkpoint> stored) throws SQLException {
        Checkpoint after = (increment.xmin() ? src.xminCheckpoint()
            : new CursorCheckpoint(src.cursorColumn().orElseThrow(), src.cursorType().orElseThrow(), src.tieColumns(),
                src.highest(List.of()), src.filter().text(), src.columnSchema())).readAt(readAt);
        ReadPlan plan = src.read(List.of());
        Landing landing = Landings.of(plan);
        BronzeLoad.checkNames(landing, target);
        locked.inTransaction(() -> {
            var load = IncrementalExtract.decidedLoad(connection, plan, target, write, true, IncrementalExtract.metadata(run, source, plan, ""));
            CopyPipe.Result result = copy(plan, load.prepare());
            session.close(); // the source snapshot must not hold a lock while the bronze table is swapped
            session = null;
            load.finish(result.rows());
            totals.schemaChanges.said(target, load.recorded());
            store.advance(connection, stream, stored, after, run.runId());
            totals.pending(result, load, result.rows());
            totals.details.put("checkpoint", after.describe());
            // With the table and its checkpoint, in one transaction: a retry after it committed must not count it twice.
            runs.succeed(connection, run.runId(), totals.rows + result.rows(), totals.bytes + result.bytes(), totals.detailsOnceCommitted());
        });
        totals.commitPending();
    }

    /**
     * A merge table that just gained source columns (added, renamed to, or variant columns) gets the source's values of them
     * in the rows it holds, in the transaction that added them: the table then equals the source, as a reload would leave
     * it, whatever gave the old rows their values there. Keys flattened from JSON have no source column to read.
     */
    private void backfillAdded(BronzeLoad loading) {
        backfill(loading, loading.alterations().stream()
            .filter(c -> c.kind() == SchemaChange.Kind.ADDED || c.kind() == SchemaChange.Kind.VARIANT)
            .map(SchemaChange::column).toList());
    }

    /**
     * Columns whose values DDL changed at the source without writing rows since the stored checkpoint ({@link #valuesChanged}):
     * a merge table takes the source's values of them in every row it holds, in the transaction that commits the checkpoint
     * that knows the new schema (so a failed run leaves it to the next); an append history keeps the versions it has, and
     * the run says so.
     */
    private void refreshChangedValues(BronzeLoad loading) {
        List<String> columns = valuesChanged.stream().filter(c -> !filled.contains(c)).toList();
        if (columns.isEmpty()) {
            return;
        }
        valuesChanged = List.of();
        if (mode == WriteMode.MERGE) {
            backfill(loading, columns);
        } else {
            run.warn(("the values of %s in %s changed at the source without rows being written (an enum label renamed, a "
                + "column dropped and added again, a type changed with USING): the versions appended before keep the old values; "
                + "--full-refresh appends a complete copy").formatted(String.join(", ", columns.stream().map(TableRef::display).toList()),
                src.table()));
        }
        totals.details.put("values_changed_without_writes", columns);
    }

    /** Gives the rows a merge table holds the source's values of {@code columns}, where they land ({@link Backfill}). */
    private void backfill(BronzeLoad loading, List<String> columns) {
        var landsIn = new LinkedHashMap<String, String>();
        // A column --on-schema-change freeze does not load lands nowhere.
        columns.stream().filter(src.columns()::contains).filter(loading.evolution().landsIn()::containsKey)
            .forEach(c -> landsIn.put(c, loading.evolution().landsIn().get(c)));
        if (mode != WriteMode.MERGE || landsIn.isEmpty() || loading.existing().isEmpty()) {
            return;
        }
        ReadPlan rows = src.readKeysAnd(List.copyOf(landsIn.keySet()));
        var backfill = new Backfill(Sql.using(connection), target, Landings.of(rows), src.keyColumns(), landsIn);
        copy(rows, backfill.prepare());
        int updated = backfill.fill();
        filled.addAll(landsIn.keySet());
        totals.details.put("backfilled", Map.of("columns", List.copyOf(landsIn.values()), "rows", updated));
        run.info("gave the %,d rows %s held the source's values of %s".formatted(updated, target, String.join(", ", landsIn.values())));
    }

    /** Marks bronze rows whose key the source no longer has, and clears the mark of keys that came back. */
    private void markVanished() throws SQLException {
        ReadPlan keys = src.readKeys();
        locked.inTransaction(() -> {
            if (BronzeTable.inspect(Sql.using(connection), target).isEmpty()) {
                return; // nothing loaded yet, so nothing can have vanished
            }
            var vanished = new VanishedKeys(Sql.using(connection), target, Landings.of(keys));
            copy(keys, vanished.prepare());
            VanishedKeys.Marks marks = vanished.mark();
            totals.details.put("deletes_marked", marks.deleted());
            if (marks.returned() > 0) {
                totals.details.put("deletes_cleared", marks.returned());
            }
        });
    }

    private CopyPipe.Result copy(ReadPlan plan, String copyIn) {
        try {
            return CopyIntoBronze.copy(run, connection, session, plan, copyIn);
        } catch (SQLException e) {
            throw new DataAccessException(e.getMessage(), e);
        }
    }

    private static List<String> with(List<String> list, String item) {
        var all = new ArrayList<>(list);
        all.add(item);
        return all;
    }
}
