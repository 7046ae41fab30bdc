package datakit.tableset;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.SetRunLog;
import datakit.bookkeeping.StreamLock;
import datakit.bronze.BronzeTable;
import datakit.db.Database;
import datakit.db.Migrations;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.error.ExitCode;
import datakit.full.SharedSnapshot;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.source.SourceSession;
import datakit.source.TableSet;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.sql.SQLException;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A run over a set of tables ({@code --table 'shop.*'}): the patterns resolved afresh on the source, then every table loaded
 * by the datakit's own single-table load, {@code parallelism} at a time, each in a run of its own (its row in
 * {@code extraction_runs}, its stream lock, its atomic publish). With {@code oneSnapshot}, every table is read in one
 * snapshot exported by a session that stays open until the last table is in, so the set is one point in time, as pg_dump's
 * is. A table that fails does not stop the others; the run then ends with exit 1 and the list, and the next run of the set
 * loads only the tables this one did not (unless {@code --restart}). {@code table_set_runs} keeps what each run did.
 */
public final class TableSetRun {
    /** One table's load, in a run context of its own; it throws what failed, worded for the user. */
    @FunctionalInterface
    public interface TableLoad {
        void load(RunContext tableRun, TableRef table, TableRef target, Optional<SharedSnapshot> snapshot);

        /** How {@code table} is loaded, for the set's summary beside the table's own ({@code "cursor": "updated_at"}); none by default. */
        default Map<String, Object> how(TableRef table) {
            return Map.of();
        }
    }

    /** What was asked: the patterns, where the tables land, how, and whether a failed run is completed. */
    public record Request(TableSet set, String patterns, String bronzeSchema, String writeMode, boolean oneSnapshot, boolean restart) {
    }

    /** How long the set waits for each table's lock before it leaves the table for the next run. */
    private static final Duration LOCK_WAIT = Duration.ofSeconds(10);

    private final RunContext run;
    private final Database source;
    private final Database warehouse;
    private final int parallelism;

    public TableSetRun(RunContext run, Database source, Database warehouse, int parallelism) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
        this.parallelism = parallelism;
    }

    /** Loads the set, each table by {@code load}; returns exit 0 when every table is in, 1 when some failed (the summary lists them). */
    public ExitCode load(Request request, TableLoad load) {
        return load(request, tables -> load);
    }

    /**
     * Loads the set, each table by the load {@code loads} makes, once, for all the tables the patterns selected, before any is
     * loaded (so it can read what it needs of them in one go).
     */
    public ExitCode load(Request request, Function<List<TableRef>, TableLoad> loads) {
        long started = System.nanoTime();
        if (run.dryRun()) {
            return dryRun(request, loads, started);
        }
        String bronze = request.bronzeSchema();
        String name = setName(request);
        var log = new SetRunLog(bronze);
        // What the patterns select, and the refusals, before anything is written.
        try (Snapshot snapshot = Snapshot.take(source, request.oneSnapshot())) {
            Optional<SharedSnapshot> shared = snapshot.id().map(id -> new SharedSnapshot(id, inWarehouse(
                c -> Sql.using(c).resultQuery("SELECT clock_timestamp()").fetchOne(0, OffsetDateTime.class))));
            var resolved = resolve(request, snapshot.session());
            Map<TableRef, TableRef> targets = targets(resolved, bronze);
            Migrations.apply(warehouse, bronze).forEach(m -> run.info("applied migration " + m + " to " + bronze));
            try (StreamLock ignored = StreamLock.exclusive(warehouse, "the table set " + name, new RunLog(bronze), run.runId())) {
                // As pg_dump does: the tables locked in the snapshot's transaction, and any changed since the snapshot not read.
                Map<TableRef, String> unreadable = request.oneSnapshot() ? TableSet.lockUnchanged(snapshot.session(), resolved.tables(), LOCK_WAIT)
                    : Map.of();
                Map<TableRef, Long> sizes = TableSet.sizes(snapshot.session(), resolved.tables().stream()
                    .filter(t -> !unreadable.containsKey(t.ref())).toList());
                if (!request.oneSnapshot()) {
                    snapshot.close();
                }
                TableLoad load = loads.apply(List.copyOf(targets.keySet()));
                Optional<SetRunLog.Previous> previous = inWarehouse(c -> log.last(c, name));
                List<SetRunLog.Loaded> kept = previous.filter(p -> !p.succeeded() && !request.restart())
                    .map(p -> inWarehouse(c -> log.loaded(c, p))).orElse(List.of()).stream()
                    .filter(k -> targets.keySet().stream().anyMatch(t -> t.toString().equals(k.table()))).toList();
                var outcome = new SetOutcome(run, request, resolved, kept, vanished(previous, targets), load::how);
                inWarehouse(c -> {
                    log.start(c, run.runId(), name, kept.isEmpty() ? Optional.empty() : previous.map(SetRunLog.Previous::runId), kept,
                        outcome.setDetails());
                    return null;
                });
                if (!kept.isEmpty()) {
                    run.warn("completing run %s of this set, which failed part-way: %d tables it loaded are kept, read in its snapshot "
                        .formatted(previous.get().runId(), kept.size()) + "(--restart loads them again)");
                }
                var keptNames = kept.stream().map(SetRunLog.Loaded::table).collect(Collectors.toSet());
                unreadable.forEach((table, why) -> {
                    if (!keptNames.contains(table.toString())) {
                        UUID none = UUID.randomUUID();
                        outcome.failed(table, targets.get(table), none, why, 0);
                        record(log, table, none, targets.get(table), "failed");
                        run.warn("%s failed: %s".formatted(table, why));
                    }
                });
                var todo = sizes.entrySet().stream().filter(e -> !keptNames.contains(e.getKey().toString()))
                    .filter(e -> !unreadable.containsKey(e.getKey()))
                    .sorted(Map.Entry.<TableRef, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey(
                        Comparator.comparing(TableRef::toString))))
                    .map(Map.Entry::getKey).toList();
                loadAll(todo, targets, snapshot, shared, load, log, outcome);
                boolean ok = outcome.failures().isEmpty();
                inWarehouse(c -> {
                    log.finish(c, run.runId(), ok);
                    return null;
                });
                outcome.print(run, source.settings().describe(), millisSince(started));
                return ok ? ExitCode.OK : ExitCode.FAILED;
            }
        } catch (SQLException e) {
            throw SqlErrors.failure("Keeping the runs of the table set " + request.patterns() + " in " + bronze, e, warehouse);
        }
    }

    /** The tables the patterns select now, refused when there are none. */
    private TableSet.Resolved resolve(Request request, SourceSession session) {
        var resolved = request.set().resolve(session);
        DatakitException.check(!resolved.tables().isEmpty(), "%s matched no table on the source %s: %s. Check the patterns (psql's \\dt "
            + "lists what a pattern matches) and that the role may see the schema.", request.patterns(), source.settings().describe(),
            resolved.unmatched().stream().map(m -> m.describe(request.set().kinds())).collect(Collectors.joining("; ")));
        return resolved;
    }

    /**
     * Each table's bronze table: its own name in the bronze schema. Two source tables of one name in different schemas would
     * land in one bronze table; that is refused before anything is loaded.
     */
    private static Map<TableRef, TableRef> targets(TableSet.Resolved resolved, String bronzeSchema) {
        var targets = new LinkedHashMap<TableRef, TableRef>();
        var byTarget = new TreeMap<String, List<TableRef>>();
        for (TableSet.Table table : resolved.tables()) {
            TableRef target = TableRef.of(bronzeSchema, table.ref().table());
            targets.put(table.ref(), target);
            byTarget.computeIfAbsent(target.toString(), t -> new ArrayList<>()).add(table.ref());
        }
        var clashes = byTarget.entrySet().stream().filter(e -> e.getValue().size() > 1)
            .map(e -> e.getValue().stream().map(TableRef::toString).collect(Collectors.joining(" and ")) + " would both land in " + e.getKey())
            .toList();
        DatakitException.check(clashes.isEmpty(), "%s. A set lands each table under its own name in --target-schema: load one schema "
            + "per run, each with its own --target-schema, or leave one out with --exclude-table.", String.join("; ", clashes));
        var reserved = targets.entrySet().stream().filter(e -> BronzeTable.isReserved(e.getValue().table()))
            .map(e -> e.getKey() + " would land in " + e.getValue()).toList();
        DatakitException.check(reserved.isEmpty(), "%s, a name the bronze schema keeps for its own tables (bookkeeping, or starting "
            + "_bronze_). Leave it out of the set with --exclude-table, and load it on its own with --target-table.", String.join("; ", reserved));
        return targets;
    }

    /** Tables the last run of the set named that the patterns select no more: their bronze tables are kept as they are. */
    private static List<String> vanished(Optional<SetRunLog.Previous> previous, Map<TableRef, TableRef> targets) {
        Set<String> now = targets.keySet().stream().map(TableRef::toString).collect(Collectors.toSet());
        return previous.map(p -> p.tables().stream().filter(t -> !now.contains(t)).toList()).orElse(List.of());
    }

    /** Loads the tables with {@code parallelism} workers; a failed table is recorded and the others go on. */
    private void loadAll(List<TableRef> todo, Map<TableRef, TableRef> targets, Snapshot snapshot, Optional<SharedSnapshot> shared,
                         TableLoad load, SetRunLog log,
                         SetOutcome outcome) {
        var queue = new ConcurrentLinkedQueue<>(todo);
        var snapshotEnded = new AtomicBoolean();
        int workers = Math.max(1, Math.min(parallelism, todo.size()));
        run.info("loading %d tables with %d workers%s".formatted(todo.size(), workers, snapshot.id().map(id -> ", in the exported snapshot "
            + id).orElse("")));
        ExecutorService pool = Executors.newFixedThreadPool(workers);
        try {
            for (int i = 0; i < workers; i++) {
                pool.submit(() -> {
                    for (TableRef table = queue.poll(); table != null; table = queue.poll()) {
                        if (snapshotEnded.get()) {
                            outcome.notStarted(table, targets.get(table), "not started: the snapshot the set is read in ended ("
                                + snapshot.endedBecause() + ")");
                            continue;
                        }
                        loadOne(table, targets.get(table), shared, load, log, outcome);
                        if (outcome.failed(table) && snapshot.ended()) {
                            snapshotEnded.set(true);
                        }
                    }
                });
            }
            pool.shutdown();
            while (!pool.awaitTermination(1, TimeUnit.MINUTES)) {
                run.info("still loading: %d tables left to start".formatted(queue.size()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw DatakitException.failed("Interrupted while loading the table set " + outcome.request().patterns(), e);
        } finally {
            pool.shutdownNow();
        }
    }

    private void loadOne(TableRef table, TableRef target, Optional<SharedSnapshot> shared, TableLoad load, SetRunLog log,
                         SetOutcome outcome) {
        var tableRun = new RunContext(run.datakit(), UUID.randomUUID(), new PrintWriter(Writer.nullWriter()), run.err(), false,
            run.verbose(), false, false);
        long started = System.nanoTime();
        try {
            inWarehouse(c -> {
                log.table(c, run.runId(), table.toString(), tableRun.runId(), target.toString(), "running");
                return null;
            });
            load.load(tableRun, table, target, shared);
            RunSummary summary = tableRun.outcome().summaries().get(0);
            outcome.loaded(table, target, summary);
            record(log, table, tableRun.runId(), target, "succeeded");
            if (run.terminal() || run.verbose()) {
                run.err().println("  loaded %s: %,d rows in %.1f s".formatted(table, summary.rows(), summary.durationMs() / 1000.0));
                run.err().flush();
            }
        } catch (RuntimeException e) {
            String error = e instanceof DatakitException ? e.getMessage() : SqlErrors.failure("Loading " + table, e).getMessage();
            outcome.failed(table, target, tableRun.runId(), error, millisSince(started));
            record(log, table, tableRun.runId(), target, "failed");
            run.warn("%s failed: %s".formatted(table, error));
        }
    }

    /** A table's end in the set's record; a warehouse that cannot be reached now is the table's own failure to tell. */
    private void record(SetRunLog log, TableRef table, UUID tableRun, TableRef target, String status) {
        try {
            inWarehouse(c -> {
                log.table(c, run.runId(), table.toString(), tableRun, target.toString(), status);
                return null;
            });
        } catch (RuntimeException e) {
            run.warn("could not record %s of %s in table_set_runs: %s".formatted(status, table, e.getMessage()));
        }
    }

    /**
     * The dry run: the tables the patterns select now and each one's own dry run (its refusals included), with nothing written
     * and no snapshot exported.
     */
    private ExitCode dryRun(Request request, Function<List<TableRef>, TableLoad> loads, long started) {
        TableSet.Resolved resolved;
        try (var session = SourceSession.begin(source)) {
            resolved = resolve(request, session);
        }
        Map<TableRef, TableRef> targets = targets(resolved, request.bronzeSchema());
        TableLoad load = loads.apply(List.copyOf(targets.keySet()));
        var outcome = new SetOutcome(run, request, resolved, List.of(), List.of(), load::how);
        var plans = new StringWriter();
        for (var entry : targets.entrySet()) {
            var text = new StringWriter();
            var tableRun = new RunContext(run.datakit(), UUID.randomUUID(), new PrintWriter(text), run.err(), false, run.verbose(), true, false);
            try {
                load.load(tableRun, entry.getKey(), entry.getValue(), Optional.empty());
                outcome.planned(entry.getKey(), entry.getValue());
                plans.append(text.toString());
            } catch (RuntimeException e) {
                outcome.failed(entry.getKey(), entry.getValue(), tableRun.runId(), e.getMessage(), 0);
            }
        }
        if (!run.json()) {
            run.out().print(plans);
        }
        outcome.print(run, source.settings().describe(), millisSince(started));
        return outcome.failures().isEmpty() ? ExitCode.OK : ExitCode.FAILED;
    }

    /** What makes two runs the same set: the datakit, the source, the patterns and the bronze schema. */
    private String setName(Request request) {
        return "%s %s from %s into %s".formatted(run.datakit(), request.patterns(), source.settings().describe(), request.bronzeSchema());
    }

    private <T> T inWarehouse(Database.TransactionWork<T> work) {
        try {
            return warehouse.inTransaction(work);
        } catch (SQLException e) {
            throw SqlErrors.failure("Recording the table set's run in the warehouse " + warehouse.settings().describe(), e, warehouse);
        }
    }

    private static long millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }

    /** The session whose exported snapshot the tables are read in, open until the set is loaded; without one, a plain session. */
    private static final class Snapshot implements AutoCloseable {
        private SourceSession session;
        private final Optional<String> id;
        private volatile String endedBecause = "";

        private Snapshot(SourceSession session, Optional<String> id) {
            this.session = session;
            this.id = id;
        }

        static Snapshot take(Database source, boolean export) {
            SourceSession session = SourceSession.begin(source);
            try {
                return new Snapshot(session, export ? Optional.of(session.exportSnapshot()) : Optional.empty());
            } catch (RuntimeException e) {
                session.close();
                throw SqlErrors.failure("Exporting a snapshot on the source " + source.settings().describe(), e, source);
            }
        }

        SourceSession session() {
            return session;
        }

        Optional<String> id() {
            return session == null ? Optional.empty() : id;
        }

        /** Whether the exporting transaction ended (a hot standby's recovery conflict, a lost connection): no table can import it. */
        boolean ended() {
            if (session == null || id.isEmpty()) {
                return false;
            }
            try {
                session.checkOpen();
                return false;
            } catch (SQLException e) {
                endedBecause = SqlErrors.serverMessage(e);
                return true;
            }
        }

        String endedBecause() {
            return endedBecause;
        }

        @Override
        public void close() {
            if (session != null) {
                session.close();
                session = null;
            }
        }
    }
}
