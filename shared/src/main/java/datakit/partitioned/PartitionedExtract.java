package datakit.partitioned;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.StreamLock;
import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeParts;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.checkpoint.PartStore;
import datakit.db.Database;
import datakit.db.RecoveryConflict;
import datakit.db.ReplayLag;
import datakit.db.Retry;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.report.PartsProgress;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.run.Landings;
import datakit.run.RecordedRun;
import datakit.source.Part;
import datakit.source.PartitionedSource;
import datakit.source.SchemaFingerprint;
import datakit.source.Selection;
import datakit.source.SourceSession;
import datakit.source.Split;
import datakit.sql.TableRef;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A partitioned extract: a big table read part by part (partitions, inheritance members or block
 * ranges) by parallel workers that all read one exported source snapshot, each part committed in bronze
 * with its checkpoint, and the whole published atomically once every part is in. A run that stops
 * resumes with the parts it did not finish; processes started with {@code --shard i/n} share the load.
 */
public final class PartitionedExtract {
    static final String EXTRACTION_TYPE = "partitioned";

    private final RunContext run;
    private final Database source;
    private final Database warehouse;
    private SourceSession holder;
    /** What the load does when the source's columns changed (--on-schema-change), as {@link #load} was given it. */
    private SchemaPolicy onSchemaChange = SchemaPolicy.EVOLVE;
    /** What {@link #plan} was asked for, to plan again in a new snapshot. */
    private Selection selection;
    private Split split;
    /** The parts this run staged in the exported snapshot in use, with what it did: copied again if the snapshot ends. */
    private final Map<String, PartWorker.Outcome> stagedThisSnapshot = new ConcurrentHashMap<>();
    /** How far behind its primary the exported snapshot is, when the source is a hot standby. */
    private Optional<ReplayLag> replayLag = Optional.empty();
    /** With --enable-row-security: the table whose policies limit the planned read. */
    private Optional<String> rowSecurity = Optional.empty();

    public PartitionedExtract(RunContext run, Database source, Database warehouse) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
    }

    /**
     * Plans the read in a snapshot it exports for the workers: the columns, and the parts from the
     * catalog. The snapshot's transaction stays open until the load ends.
     */
    public PartitionedPlan plan(Selection selection, Split split) {
        DatakitException.check(selection.query().isEmpty(),
            "%s reads the parts of a table, and a --query has none. Copy a query with postgres-extract.", run.datakit());
        this.selection = selection;
        this.split = split;
        try {
            return source.retry().run(attempt -> planOnce(), (attempt, failure) -> run.warn("attempt %d of planning the read of %s after %s"
                .formatted(attempt, selection.describe(), Retry.cause(failure))));
        } catch (SQLException e) {
            throw SqlErrors.failure("Planning the parts of " + selection.describe() + " on the source " + source.settings().describe(), e, source);
        }
    }

    /** Plans in a new exported snapshot: at first, and again when a recovery conflict ended the one before. */
    private PartitionedPlan planOnce() {
        closeHolder();
        long started = System.nanoTime();
        holder = SourceSession.begin(source);
        String snapshot = holder.exportSnapshot();
        replayLag = holder.replayLag();
        var read = holder.plan(selection);
        rowSecurity = holder.rowSecurityNote(selection);
        var src = new PartitionedSource(holder, read);
        var plan = new PartitionedPlan(read, src.parts(split), snapshot, src.horizon(), SchemaFingerprint.read(holder, selection));
        run.info("planned %d parts of %s in %d ms, in the exported snapshot %s".formatted(plan.parts().size(), read.describe(),
            millisSince(started), snapshot));
        return plan;
    }

    /** Loads every part into bronze and publishes them; with {@code --dry-run}, prints the plan instead. */
    public void load(PartitionedPlan plan, TableRef target, WriteMode mode, SchemaPolicy onSchemaChange, PartitionedLoad how) {
        DatakitException.check(mode == WriteMode.REPLACE, "%s replaces the bronze table with a complete copy (--mode replace); load "
            + "changes with postgres-incremental.", run.datakit());
        this.onSchemaChange = onSchemaChange;
        try {
            if (run.dryRun()) {
                new PartitionedDryRun(run, source, warehouse, holder).print(plan, target, how, bronze(plan, target, how),
                    plan.fingerprint(source.settings().describe(), how.layout()));
                return;
            }
            var record = new RunLog.RunRecord(run.runId(), run.datakit(), source.settings().describe(),
                plan.read().table().map(TableRef::toString), target.toString(), EXTRACTION_TYPE, mode.label(),
                Map.of("parts", plan.parts().size(), "layout", how.layout().label(), "shard", how.shard().toString(),
                    "estimated_rows", plan.estimatedRows()));
            RecordedRun.run(run, warehouse, target.schema(), record, runs -> {
                loadRetried(plan, target, how, runs);
                return null;
            }, e -> SqlErrors.loadFailure("Loading the parts of " + plan.read().describe() + " into " + target, e, source, warehouse));
        } finally {
            closeHolder();
        }
    }

    /**
     * Loads the parts, retrying failures on one budget for the run (the parts' own retries draw on it too). An attempt goes on
     * in the exported snapshot while it lives; once it ended (a hot standby ends a transaction that sits idle holding up its
     * replay, or its connection was lost), the next attempt plans in a new snapshot and copies again the parts this run staged
     * in the old one, so that no part read in one snapshot is published with parts read in another.
     */
    private void loadRetried(PartitionedPlan plan, TableRef target, PartitionedLoad how, RunLog runs) throws SQLException {
        Retry retry = Retry.forLoad(source.retry(), warehouse.retry());
        PartitionedPlan[] current = {plan};
        boolean[] snapshotEnded = {false};
        retry.run(attempt -> {
            boolean newSnapshot = snapshotEnded[0];
            if (newSnapshot) {
                current[0] = planOnce(); // if this fails, the next attempt plans again
            }
            snapshotEnded[0] = false;
            try {
                loadShared(current[0], target, how, runs, retry, newSnapshot);
            } catch (SQLException | RuntimeException e) {
                Optional<SQLException> ended = snapshotEnd();
                snapshotEnded[0] = ended.isPresent();
                if (ended.isPresent() && !retryable(e)) {
                    ended.get().addSuppressed(e);
                    throw ended.get();
                }
                throw e;
            }
            return null;
        }, (attempt, failure) -> run.warn("attempt %d of the load of %s after %s".formatted(attempt, target, Retry.cause(failure))
            + (snapshotEnded[0] ? ", in a new snapshot: " + again(stagedThisSnapshot.size()) : "; the parts committed so far are kept")));
    }

    private static String again(int parts) {
        return parts == 0 ? "no part was staged in the one that ended"
            : parts == 1 ? "the part this run staged in the one that ended is copied again"
            : "the " + parts + " parts this run staged in the one that ended are copied again";
    }

    private static boolean retryable(Exception e) {
        return RecoveryConflict.is(e) || e instanceof SQLException && Retry.isTransient(e);
    }

    private BronzeParts bronze(PartitionedPlan plan, TableRef target, PartitionedLoad how) {
        var metadata = BronzeMetadata.of(run.runId(), source.settings().describe(), plan.read().table().map(TableRef::schema),
            plan.read().table().map(TableRef::table), EXTRACTION_TYPE);
        return new BronzeParts(Landings.of(plan.read()), target, how.layout(), metadata, onSchemaChange);
    }

    /**
     * What ended the exported snapshot's transaction, if something did. The workers then fail to import the snapshot
     * ("invalid snapshot identifier"); this says why.
     */
    private Optional<SQLException> snapshotEnd() {
        try {
            holder.checkOpen();
            return Optional.empty();
        } catch (SQLException ended) {
            return Optional.of(ended);
        }
    }

    private void loadShared(PartitionedPlan plan, TableRef target, PartitionedLoad how, RunLog runs, Retry retry, boolean newSnapshot)
            throws SQLException {
        long started = System.nanoTime();
        BronzeParts bronze = bronze(plan, target, how);
        String fingerprint = plan.fingerprint(source.settings().describe(), how.layout());
        String stream = target.toString();
        var shared = new SharedLoad(run, target, runs);
        try (StreamLock lock = StreamLock.shared(warehouse, stream, runs, run.runId())) {
            SharedLoad.Joined joined = lock.inTransaction(transaction -> shared.join(transaction, lock, plan, how, fingerprint, bronze));
            PartStore.Load load = joined.load();
            if (joined.resumed() && !load.startedBy().equals(run.runId())) {
                run.info("resuming the load of %s begun by run %s".formatted(stream, load.startedBy()));
            }
            if (newSnapshot) {
                lock.inTransaction(transaction -> shared.unstageReadIn(transaction, load.id(), stagedThisSnapshot.keySet()));
                stagedThisSnapshot.clear();
            }
            boolean keep = how.keepUnchanged() && plan.keeps(load.publishedFingerprint(), fingerprint, source.settings().describe(),
                how.layout(), runs.renamedFrom());
            // A part an earlier attempt of this run staged counts as this run's.
            List<PartWorker.Outcome> outcomes = copyParts(plan, target, how, bronze, load, keep, lock, retry).stream()
                .map(o -> o.result() == PartWorker.Result.STAGED_BEFORE ? stagedThisSnapshot.getOrDefault(o.part(), o) : o).toList();
            var tally = outcomes.stream().collect(Collectors.groupingBy(PartWorker.Outcome::result, Collectors.counting()));
            var details = new LinkedHashMap<String, Object>();
            replayLag.ifPresent(lag -> details.put("standby", lag));
            details.put("parts", load.parts().size());
            details.put("copied", tally.getOrDefault(PartWorker.Result.COPIED, 0L));
            details.put("kept", tally.getOrDefault(PartWorker.Result.KEPT, 0L));
            details.put("resumed", tally.getOrDefault(PartWorker.Result.STAGED_BEFORE, 0L));
            SharedLoad.schemaChange(load.publishedFingerprint(), load.publishedSourceSchema(), fingerprint, plan, how)
                .ifPresent(why -> details.put("schema_change", why));
            if (how.shard().count() > 1) {
                details.put("shard", how.shard().toString());
            }
            rowSecurity.ifPresent(note -> details.put("row_security", note));
            SharedLoad.Ending ending = lock.inTransaction(transaction -> shared.finish(transaction, plan, load.id(), bronze, details));
            runs.sayRename(run, details);
            long rows = outcomes.stream().filter(o -> o.result() == PartWorker.Result.COPIED).mapToLong(PartWorker.Outcome::rows).sum();
            long bytes = outcomes.stream().mapToLong(PartWorker.Outcome::bytes).sum();
            new RunSummary(ending.outcome() == SharedLoad.Outcome.PUBLISHED ? "succeeded" : "staged", run.datakit(), run.runId(), source.settings().describe(),
                plan.read().describe() + " (" + plan.parts().size() + " parts)", target + " (layout " + how.layout().label() + ")",
                "replace", rows, bytes, millisSince(started), details).print(run);
        }
    }

    /** Copies this process's parts with parallel workers, largest first; the first failure stops the others. */
    private List<PartWorker.Outcome> copyParts(PartitionedPlan plan, TableRef target, PartitionedLoad how, BronzeParts bronze,
                                               PartStore.Load load, boolean keep, StreamLock lock, Retry retry) throws SQLException {
        Map<String, Part> parts = plan.parts().stream().collect(Collectors.toMap(Part::name, Function.identity()));
        var queue = new ConcurrentLinkedQueue<PartWorker.Task>();
        load.parts().stream().filter(p -> p.shard() == how.shard().index())
            .sorted(Comparator.comparingLong((PartStore.PlannedPart p) -> -p.estimatedRows()).thenComparing(PartStore.PlannedPart::index))
            .forEach(p -> queue.add(new PartWorker.Task(parts.get(p.name()), p)));
        int workers = Math.max(1, Math.min(how.parallelism(), queue.size()));
        run.info("copying %d parts with %d workers".formatted(queue.size(), workers));
        var progress = new PartsProgress(run.err(), run.terminal(), queue.size(),
            queue.stream().mapToLong(t -> Math.max(0, t.part().estimatedRows())).sum());
        var stop = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(workers);
        try {
            var futures = new ArrayList<Future<List<PartWorker.Outcome>>>();
            for (int i = 0; i < workers; i++) {
                futures.add(pool.submit(new PartWorker(run, source, warehouse, lock, retry, new PartWorker.Work(plan, bronze, target, load, keep),
                    queue, progress, stop, stagedThisSnapshot)));
            }
            var outcomes = new ArrayList<PartWorker.Outcome>();
            Exception failure = null;
            for (var future : futures) {
                try {
                    outcomes.addAll(future.get());
                } catch (ExecutionException e) {
                    failure = failure == null ? (Exception) e.getCause() : failure;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    stop.set(true);
                    failure = failure == null ? e : failure;
                }
            }
            progress.close();
            if (failure instanceof SQLException sql) {
                throw sql;
            }
            if (failure != null) {
                throw failure instanceof RuntimeException r ? r : new IllegalStateException(failure);
            }
            return outcomes;
        } finally {
            pool.shutdownNow();
        }
    }

    private void closeHolder() {
        if (holder != null) {
            holder.close();
            holder = null;
        }
    }

    private static long millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }
}
