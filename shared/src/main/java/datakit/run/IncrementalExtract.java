package datakit.run;

import datakit.bronze.BronzeLoad;
import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
import datakit.bronze.BronzeWrite;
import datakit.bronze.VanishedKeys;
import datakit.bronze.WriteMode;
import datakit.checkpoint.Checkpoint;
import datakit.checkpoint.CheckpointStore;
import datakit.cli.DatakitException;
import datakit.cli.ExitCode;
import datakit.db.CopyPipe;
import datakit.db.Database;
import datakit.db.Migrations;
import datakit.db.SqlErrors;
import datakit.source.IncrementalSource;
import datakit.source.IncrementalSource.Position;
import datakit.source.ReadPlan;
import datakit.source.Selection;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.exception.DataAccessException;

/**
 * An incremental load: the rows past the stream's checkpoint, read in (cursor, key) order from one source
 * snapshot and committed in chunks, each in one warehouse transaction with the checkpoint that ends it, so
 * a run killed at 90 % resumes at 90 % and no row is loaded twice or skipped. The stream is locked for the
 * whole run; a connection failure resumes from the last committed chunk. A checkpoint that cannot be used
 * stops the run, or, when asked, turns it into a full refresh that says why.
 */
public final class IncrementalExtract {
    private static final String EXTRACTION_TYPE = "incremental";
    /** Transaction ids: a checkpoint older than this cannot be told apart from a new one after wraparound. */
    private static final long XID_HORIZON = 1L << 31;

    private final RunContext run;
    private final Database source;
    private final Database warehouse;
    private SourceSession firstSession;
    private long rows;
    private long bytes;
    private final Map<String, Object> details = new LinkedHashMap<>();

    public IncrementalExtract(RunContext run, Database source, Database warehouse) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
    }

    /** Loads what changed since the last run of the stream into {@code target}; with --dry-run, prints the plan. */
    public void load(Increment increment, TableRef target, WriteMode mode) {
        DatakitException.check(mode == WriteMode.APPEND || mode == WriteMode.MERGE,
            "%s writes --mode merge (one row per key, the default) or append (every version as history).", run.datakit());
        Selection selection = increment.selection();
        // The snapshot that checks the options is the one the first attempt reads.
        firstSession = SourceSession.begin(source);
        try {
            SourceSession session = firstSession;
            var src = IncrementalSource.open(session, selection, increment.cursorField(), increment.keys());
            BronzeLoad.checkNames(src.columns(), selection.describe(), target);
            run.info("checked the read of " + selection.describe());
            DatakitException.check(increment.lookback().isEmpty() || src.timeCursor(),
                "--lookback needs a timestamp, timestamptz or date cursor; %s is %s.", src.cursorColumn().orElse("xmin"),
                src.cursorType().orElse("a transaction id"));
            DatakitException.check(increment.chunkRows().isEmpty() || !increment.xmin(),
                "--chunk-rows needs a cursor to order rows by; xmin mode loads the changes in one transaction.");
            if (run.dryRun()) {
                printPlan(increment, target, mode, session, src, src.read(List.of()));
                return;
            }
        } finally {
            if (run.dryRun()) {
                closeFirstSession();
            }
        }
        run.info("applying pending migrations of " + target.schema());
        Migrations.apply(warehouse.dataSource(), target.schema()).forEach(m -> run.info("applied migration " + m + " to " + target.schema()));
        var runs = new RunLog(target.schema());
        var record = new RunLog.RunRecord(run.runId(), run.datakit(), source.settings().describe(),
            selection.table().map(TableRef::toString), target.toString(), EXTRACTION_TYPE, mode.label(),
            Map.of("cursor", increment.cursorField().orElse("xmin")));
        try (Connection connection = warehouse.connect()) {
            runs.start(connection, record);
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Recording the run in " + target.schema() + ".extraction_runs", e);
        }
        long started = System.nanoTime();
        try {
            warehouse.retry().run(attempt -> {
                attempt(attempt, increment, target, mode, runs);
                return null;
            });
        } catch (SQLException | RuntimeException e) {
            var error = SqlErrors.failure("Loading " + selection.describe() + " incrementally into " + target, e);
            recordFailure(runs, error.getMessage());
            throw error;
        } finally {
            closeFirstSession();
        }
        new RunSummary("succeeded", run.datakit(), run.runId(), source.settings().describe(), selection.describe(), target.toString(),
            mode.label(), rows, bytes, (System.nanoTime() - started) / 1_000_000, details).print(run.out(), run.json());
    }

    /** One attempt from the stream's committed checkpoint to the end. */
    private void attempt(int attempt, Increment increment, TableRef target, WriteMode mode, RunLog runs) throws SQLException {
        String stream = target.toString();
        Connection connection = warehouse.connect();
        SourceSession session = null;
        boolean healthy = false;
        try {
            lockStream(connection, stream, runs);
            if (attempt > 1) {
                run.warn("attempt " + attempt + " of the load of " + target + " resumes from its last committed chunk");
            }
            runs.abandonStale(connection, stream, run.runId());
            run.info("locked " + stream);
            session = firstSession != null ? firstSession : SourceSession.begin(source);
            firstSession = null;
            var src = IncrementalSource.open(session, increment.selection(), increment.cursorField(), increment.keys());
            var write = new BronzeWrite(mode, src.keyColumns(), increment.onConflict());
            var store = new CheckpointStore(target.schema());
            Optional<Checkpoint> checkpoint = store.load(connection, stream);
            Optional<BronzeTable> existing = BronzeTable.inspect(Sql.using(connection), target);
            if (existing.isPresent()) {
                StreamGuard.check(runs, connection, stream, increment.selection().table().map(TableRef::toString), mode);
            }
            Optional<String> refresh = fullRefreshReason(increment, src, checkpoint, existing, runs, connection, stream);
            if (refresh.isPresent()) {
                details.put("full_refresh", refresh.get());
                fullRefresh(connection, session, src, increment, target, write, store, checkpoint, runs);
                session = null; // ended before the swap
            } else {
                Optional<Checkpoint> last = increment.xmin()
                    ? Optional.of(loadSinceXmin(connection, session, src, increment, target, write, store, checkpoint, runs))
                    : loadPastCursor(connection, session, src, increment, target, write, store, checkpoint, runs);
                details.put("checkpoint", last.map(Checkpoint::describe).orElse("none yet (no rows with a cursor value)"));
                if (src.cursorNullable()) {
                    loadNullCursorRows(connection, session, src, target, write, last, runs);
                }
                if (increment.detectDeletes()) {
                    markVanished(connection, session, src, target, runs);
                }
                runs.succeed(connection, run.runId(), rows, bytes, details);
            }
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
            release(connection, stream, healthy);
        }
    }

    /**
     * Why this run must reload everything, if it must: asked for, or a checkpoint that no longer fits the
     * table. Without --on-bad-checkpoint full-refresh, an unusable checkpoint stops the run instead.
     */
    private Optional<String> fullRefreshReason(Increment increment, IncrementalSource src, Optional<Checkpoint> checkpoint,
                                               Optional<BronzeTable> existing, RunLog runs, Connection connection, String stream) {
        if (increment.fullRefresh()) {
            return Optional.of("--full-refresh was given");
        }
        Optional<String> problem = checkpointProblem(increment, src, checkpoint, existing, runs, connection, stream);
        if (problem.isEmpty()) {
            return Optional.empty();
        }
        if (increment.onBadCheckpoint() == Increment.BadCheckpoint.FULL_REFRESH) {
            return problem;
        }
        boolean typeChanged = problem.get().contains("type");
        throw new DatakitException(typeChanged ? ExitCode.BAD_INPUT : ExitCode.NOT_READY,
            "The checkpoint of %s cannot be used: %s. Reload the table with --full-refresh, or let such runs do it with --on-bad-checkpoint full-refresh."
                .formatted(stream, problem.get()));
    }

    private Optional<String> checkpointProblem(Increment increment, IncrementalSource src, Optional<Checkpoint> checkpoint,
                                               Optional<BronzeTable> existing, RunLog runs, Connection connection, String stream) {
        if (checkpoint.isEmpty()) {
            boolean loadedBefore = runs.lastSuccess(connection, stream)
                .filter(previous -> previous.mode().equals(EXTRACTION_TYPE)).isPresent();
            return loadedBefore && existing.isPresent()
                ? Optional.of("the checkpoint row of this stream is gone from extraction_checkpoints, though earlier runs loaded it")
                : Optional.empty();
        }
        Checkpoint c = checkpoint.get();
        if (existing.isEmpty()) {
            return Optional.of("the bronze table " + stream + " was dropped after the checkpoint " + c.describe() + " was taken");
        }
        if (increment.xmin() != c.mode().equals(Checkpoint.XMIN)) {
            return Optional.of("it was taken in " + c.mode() + " mode and this run follows " + (increment.xmin() ? "xmin" : "a cursor"));
        }
        if (increment.xmin()) {
            long age = src.snapshotXmax() - c.xmin().orElseThrow();
            return age >= XID_HORIZON
                ? Optional.of("its transaction id is " + age + " transactions old, too old to compare after wraparound")
                : Optional.empty();
        }
        if (!c.cursorColumn().equals(src.cursorColumn())) {
            return Optional.of("it follows cursor column " + c.cursorColumn().orElse("?") + ", and this run --cursor-field "
                + src.cursorColumn().orElse("?"));
        }
        if (!c.cursorType().equals(src.cursorType())) {
            return Optional.of("its cursor value has type " + c.cursorType().orElse("?") + ", and the column " + src.cursorColumn().orElse("?")
                + " is now of type " + src.cursorType().orElse("?"));
        }
        if (!c.keyColumns().equals(src.keyColumns())) {
            return Optional.of("it orders ties by key " + c.keyColumns() + ", and this run by " + src.keyColumns());
        }
        return Optional.empty();
    }

    /** Where this run starts reading: after the checkpoint, a lookback before it, or --initial-value on a first run. */
    private static List<String> lowerBound(IncrementalSource src, Increment increment, Optional<Checkpoint> checkpoint) {
        if (increment.xmin()) {
            return checkpoint.map(c -> List.of(IncrementalSource.xminAtLeast(c.xmin().orElseThrow(), src.snapshotXmax()))).orElse(List.of());
        }
        if (checkpoint.isPresent()) {
            Position from = position(checkpoint.get());
            return List.of(increment.lookback().map(l -> src.lookback(from, l)).orElseGet(() -> src.after(from)));
        }
        return increment.initialValue().map(v -> List.of(src.cursorAtLeast(v))).orElse(List.of());
    }

    private static Position position(Checkpoint checkpoint) {
        return new Position(checkpoint.cursorValue().orElseThrow(), checkpoint.keyValues());
    }

    /**
     * Cursor mode: the rows past the checkpoint (or a lookback before it), chunk by chunk, each chunk
     * committed with the checkpoint at its last row. Returns the checkpoint reached, empty if no row has
     * a cursor value yet.
     */
    private Optional<Checkpoint> loadPastCursor(Connection connection, SourceSession session, IncrementalSource src,
                                                Increment increment, TableRef target, BronzeWrite write, CheckpointStore store,
                                                Optional<Checkpoint> checkpoint, RunLog runs) throws SQLException {
        Optional<Position> from = checkpoint.map(IncrementalExtract::position);
        List<String> lower = lowerBound(src, increment, checkpoint);
        long finding = System.nanoTime();
        Optional<Position> high = src.highest(lower);
        run.info("found the last row to read in %d ms: %s".formatted((System.nanoTime() - finding) / 1_000_000, high.orElse(null)));
        if (high.isEmpty()) {
            return checkpoint;
        }
        List<Position> ends = new ArrayList<>();
        increment.chunkRows().ifPresent(n -> ends.addAll(src.boundaries(append(lower, src.upTo(high.get())), n)));
        if (ends.isEmpty() || !ends.get(ends.size() - 1).equals(high.get())) {
            ends.add(high.get());
        }
        Optional<Checkpoint> expected = checkpoint;
        List<String> chunkLower = lower;
        for (int chunk = 1; chunk <= ends.size(); chunk++) {
            Position end = ends.get(chunk - 1);
            ReadPlan plan = src.read(append(chunkLower, src.upTo(end)));
            // Re-reading a lookback window must not move the checkpoint back.
            Position next = from.isPresent() && !src.isAfter(end, from.get()) ? from.get() : end;
            Checkpoint after = Checkpoint.cursor(src.cursorColumn().orElseThrow(), src.cursorType().orElseThrow(), next.cursor(),
                src.keyColumns(), next.keys());
            Optional<Checkpoint> before = expected;
            loadPart(connection, session, plan, target, write, before.map(Checkpoint::describe).orElse(""), runs,
                tx -> store.advance(tx, target.toString(), before, after, run.runId()));
            run.info("chunk %d of %d committed, checkpoint %s".formatted(chunk, ends.size(), after.describe()));
            expected = Optional.of(after);
            chunkLower = List.of(src.after(end));
        }
        details.put("chunks", ends.size());
        return expected;
    }

    /** xmin mode: rows written by transactions at or after the checkpoint, in one transaction. */
    private Checkpoint loadSinceXmin(Connection connection, SourceSession session, IncrementalSource src, Increment increment,
                                     TableRef target, BronzeWrite write, CheckpointStore store, Optional<Checkpoint> checkpoint,
                                     RunLog runs)
            throws SQLException {
        Checkpoint after = Checkpoint.xmin(src.snapshotXmin());
        ReadPlan plan = src.read(lowerBound(src, increment, checkpoint));
        loadPart(connection, session, plan, target, write, checkpoint.map(Checkpoint::describe).orElse(""), runs,
            tx -> store.advance(tx, target.toString(), checkpoint, after, run.runId()));
        return after;
    }

    /** Rows whose cursor is NULL cannot be placed in cursor order: they are read on every run (documented). */
    private void loadNullCursorRows(Connection connection, SourceSession session, IncrementalSource src, TableRef target,
                                    BronzeWrite write, Optional<Checkpoint> last, RunLog runs) throws SQLException {
        ReadPlan plan = src.read(List.of(src.cursorIsNull()));
        long before = rows;
        loadPart(connection, session, plan, target, write, last.map(Checkpoint::describe).orElse(""), runs, tx -> { });
        if (rows > before) {
            details.put("null_cursor_rows", rows - before);
            if (write.mode() == WriteMode.APPEND) {
                run.warn("%,d rows of %s have a NULL %s; they are read on every run, and append mode adds them each time"
                    .formatted(rows - before, src.table(), src.cursorColumn().orElseThrow()));
            }
        }
    }

    /** Loads one part (a chunk) and commits it with whatever {@code alsoCommit} writes, such as its checkpoint. */
    private void loadPart(Connection connection, SourceSession session, ReadPlan plan, TableRef target, BronzeWrite write,
                          String readAfter, RunLog runs, java.util.function.Consumer<Connection> alsoCommit) throws SQLException {
        BronzeLoad.checkNames(plan, target);
        var metadata = new BronzeMetadata(run.runId(), source.settings().describe(), plan.table().map(TableRef::schema),
            plan.table().map(TableRef::table), EXTRACTION_TYPE, Optional.of(readAfter));
        connection.setAutoCommit(false);
        try {
            var load = new BronzeLoad(Sql.using(connection), plan, target, write, metadata);
            if (!load.schemaChanges().isEmpty()) {
                load.applySchemaChanges();
                connection.commit();
                load = new BronzeLoad(Sql.using(connection), plan, target, write, metadata);
            }
            long copying = System.nanoTime();
            CopyPipe.Result result = CopyIntoBronze.copy(run, connection, session, plan, load.prepare());
            long finishing = System.nanoTime();
            load.finish();
            alsoCommit.accept(connection);
            runs.progress(connection, run.runId(), rows + result.rows(), bytes + result.bytes());
            connection.commit();
            run.info("copied %,d rows in %d ms, wrote them into %s and committed in %d ms".formatted(result.rows(),
                (finishing - copying) / 1_000_000, target, (System.nanoTime() - finishing) / 1_000_000));
            rows += result.rows();
            bytes += result.bytes();
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
    }

    /** Replaces the bronze table with the whole source table and sets the checkpoint to its end, in one transaction. */
    private void fullRefresh(Connection connection, SourceSession session, IncrementalSource src, Increment increment, TableRef target,
                             BronzeWrite write, CheckpointStore store, Optional<Checkpoint> checkpoint, RunLog runs) throws SQLException {
        run.warn("full refresh of " + target + ": " + details.get("full_refresh"));
        Optional<Checkpoint> after = increment.xmin()
            ? Optional.of(Checkpoint.xmin(src.snapshotXmin()))
            : src.highest(List.of()).map(high -> Checkpoint.cursor(src.cursorColumn().orElseThrow(), src.cursorType().orElseThrow(),
                high.cursor(), src.keyColumns(), high.keys()));
        ReadPlan plan = src.read(List.of());
        BronzeLoad.checkNames(plan, target);
        var replace = new BronzeWrite(WriteMode.REPLACE, write.mode() == WriteMode.MERGE ? write.keys() : List.of(), write.onConflict());
        var metadata = new BronzeMetadata(run.runId(), source.settings().describe(), plan.table().map(TableRef::schema),
            plan.table().map(TableRef::table), EXTRACTION_TYPE, Optional.of(""));
        connection.setAutoCommit(false);
        try {
            var load = new BronzeLoad(Sql.using(connection), plan, target, replace, metadata);
            CopyPipe.Result result = CopyIntoBronze.copy(run, connection, session, plan, load.prepare());
            session.close(); // the source snapshot must not hold a lock while the bronze table is swapped
            load.finish();
            store.clear(connection, target.toString());
            after.ifPresent(a -> store.advance(connection, target.toString(), Optional.empty(), a, run.runId()));
            details.put("checkpoint", after.map(Checkpoint::describe).orElse("none yet (no rows with a cursor value)"));
            runs.succeed(connection, run.runId(), rows + result.rows(), bytes + result.bytes(), details);
            connection.commit();
            rows += result.rows();
            bytes += result.bytes();
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
    }

    /** Marks bronze rows whose key the source no longer has, in one transaction. */
    private void markVanished(Connection connection, SourceSession session, IncrementalSource src, TableRef target, RunLog runs)
            throws SQLException {
        ReadPlan keys = src.readKeys();
        connection.setAutoCommit(false);
        try {
            var vanished = new VanishedKeys(Sql.using(connection), target, keys);
            CopyIntoBronze.copy(run, connection, session, keys, vanished.prepare());
            int marked = vanished.mark();
            details.put("deletes_marked", marked);
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
    }

    private void lockStream(Connection connection, String stream, RunLog runs) {
        if (!StreamLock.tryForSession(connection, stream)) {
            throw new DatakitException(ExitCode.NOT_READY, "Another run of %s is in progress%s. Wait for it to finish, or stop it first."
                .formatted(stream, runs.otherRunning(connection, stream, run.runId()).map(r -> " (run " + r + ")").orElse("")));
        }
    }

    /** Gives the stream's lock back; a connection in doubt is closed instead, which ends its lock too. */
    private void release(Connection connection, String stream, boolean healthy) {
        if (healthy) {
            try {
                StreamLock.release(connection, stream);
                connection.close();
                return;
            } catch (SQLException | RuntimeException e) {
                // Fall through: a connection that cannot unlock is not given back to the pool.
            }
        }
        warehouse.discard(connection);
    }

    private void closeFirstSession() {
        if (firstSession != null) {
            firstSession.close();
            firstSession = null;
        }
    }

    private void recordFailure(RunLog runs, String error) {
        try (Connection connection = warehouse.connect()) {
            runs.fail(connection, run.runId(), error);
        } catch (SQLException | RuntimeException e) {
            run.warn("could not record the failure in extraction_runs: " + SqlErrors.serverMessage(e));
        }
    }

    /** --dry-run: the stored checkpoint, the delta query with its bound values, the estimate; writes nothing. */
    private void printPlan(Increment increment, TableRef target, WriteMode mode, SourceSession session, IncrementalSource src, ReadPlan all) {
        try (Connection connection = warehouse.connect()) {
            Optional<Checkpoint> checkpoint = new CheckpointStore(target.schema()).peek(connection, target.toString());
            Optional<BronzeTable> existing = BronzeTable.inspect(Sql.using(connection), target);
            var extras = new LinkedHashMap<String, String>();
            extras.put("follows", increment.xmin() ? "xmin (transaction ids)"
                : src.cursorColumn().orElseThrow() + " " + src.cursorType().orElseThrow() + ", ties by " + String.join(", ", src.keyColumns()));
            extras.put("checkpoint", checkpoint.map(Checkpoint::describe).orElse("none: the first run reads everything"
                + increment.initialValue().map(v -> " from " + v).orElse("")));
            Optional<String> refresh = increment.fullRefresh() ? Optional.of("--full-refresh was given")
                : checkpoint.flatMap(c -> checkpointProblem(increment, src, checkpoint, existing, new RunLog(target.schema()), connection,
                    target.toString()));
            refresh.ifPresent(r -> extras.put("full refresh", (increment.fullRefresh()
                || increment.onBadCheckpoint() == Increment.BadCheckpoint.FULL_REFRESH ? "would run: " : "needed, so the run would stop: ") + r));
            ReadPlan delta = refresh.isPresent() ? all : src.read(lowerBound(src, increment, checkpoint));
            var write = new BronzeWrite(mode, src.keyColumns(), increment.onConflict());
            var metadata = new BronzeMetadata(run.runId(), source.settings().describe(), all.table().map(TableRef::schema),
                all.table().map(TableRef::table), EXTRACTION_TYPE, Optional.of(""));
            var load = new BronzeLoad(Sql.using(connection), all, target, write, metadata);
            DryRun.print(run, source.settings(), warehouse.settings(), delta, target, mode, load,
                Migrations.pending(warehouse.dataSource(), target.schema()), extras);
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Inspecting the warehouse " + warehouse.settings().describe(), e);
        }
    }

    private static List<String> append(List<String> list, String item) {
        var all = new ArrayList<>(list);
        all.add(item);
        return all;
    }
}
