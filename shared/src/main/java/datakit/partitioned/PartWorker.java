package datakit.partitioned;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.StreamLock;
import datakit.bronze.BronzeParts;
import datakit.checkpoint.PartStore;
import datakit.db.CopyPipe;
import datakit.db.Database;
import datakit.db.Retry;
import datakit.db.SqlErrors;
import datakit.report.PartsProgress;
import datakit.report.RunContext;
import datakit.source.Part;
import datakit.source.PartitionedSource;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jooq.DSLContext;

/**
 * One worker of a partitioned load: a source session in the load's exported snapshot and a warehouse
 * connection, copying parts from a shared queue until it is empty. Each part is claimed, copied into a
 * table of its own and checkpointed in one warehouse transaction, which commits only while the process
 * holds the stream's lock, so a part is either wholly committed or not at all. A part another process is copying is waited for: once that process commits, the part
 * is found staged; if it fails, this worker copies the part.
 */
final class PartWorker implements Callable<List<PartWorker.Outcome>> {
    /** What became of a part. */
    enum Result { COPIED, KEPT, STAGED_BEFORE }

    record Outcome(String part, Result result, long rows, long bytes) {
    }

    /** A part to load, with its place in the load. */
    record Task(Part part, PartStore.PlannedPart planned) {
    }

    /** What the workers of one attempt load: the plan, where the parts land, the load they join, whether to keep unchanged parts. */
    record Work(PartitionedPlan plan, BronzeParts bronze, TableRef target, PartStore.Load load, boolean keepUnchanged) {
    }

    private final RunContext run;
    private final Database source;
    private final Database warehouse;
    private final Retry retry;
    private final StreamLock lock;
    private final PartitionedPlan plan;
    private final BronzeParts bronze;
    private final String stream;
    private final PartStore.Load load;
    private final boolean keepUnchanged;
    private final Queue<Task> queue;
    private final PartsProgress progress;
    private final AtomicBoolean stop;
    private final Map<String, Outcome> staged;
    private final PartStore store;
    private final RunLog runs;
    private SourceSession session;

    /**
     * @param lock   the run's hold on the stream: a part commits only while the run still has it
     * @param retry  the run's retries, which the parts draw on with the whole load
     * @param staged receives each part this worker stages (copied or kept), once committed
     */
    PartWorker(RunContext run, Database source, Database warehouse, StreamLock lock, Retry retry, Work work, Queue<Task> queue,
               PartsProgress progress, AtomicBoolean stop, Map<String, Outcome> staged) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
        this.lock = lock;
        this.retry = retry;
        this.plan = work.plan();
        this.bronze = work.bronze();
        this.stream = work.target().toString();
        this.load = work.load();
        this.keepUnchanged = work.keepUnchanged();
        this.queue = queue;
        this.progress = progress;
        this.stop = stop;
        this.staged = staged;
        this.store = new PartStore(work.target().schema());
        this.runs = new RunLog(work.target().schema());
    }

    @Override
    public List<Outcome> call() {
        var outcomes = new ArrayList<Outcome>();
        Task task = null;
        try {
            for (task = queue.poll(); task != null && !stop.get(); task = queue.poll()) {
                Task current = task;
                Outcome outcome = retry.run(attempt -> attempt(current), (attempt, failure) -> run.warn("attempt %d of part %s after %s"
                    .formatted(attempt, current.part().name(), Retry.cause(failure))));
                if (outcome.result() != Result.STAGED_BEFORE) {
                    staged.put(outcome.part(), outcome);
                }
                outcomes.add(outcome);
            }
            return outcomes;
        } catch (SQLException | RuntimeException e) {
            stop.set(true);
            throw SqlErrors.loadFailure("Copying part " + task.part().name() + " into " + stream, e, source, warehouse);
        } finally {
            closeSession();
        }
    }

    private Outcome attempt(Task task) throws SQLException {
        try {
            return warehouse.inTransaction(connection -> loadPart(connection, task));
        } catch (SQLException | RuntimeException e) {
            // A stream that broke off leaves the source session mid-COPY: the next attempt begins a new one.
            closeSession();
            throw e;
        }
    }

    private Outcome loadPart(Connection connection, Task task) throws SQLException {
        Part part = task.part();
        DSLContext db = Sql.using(connection);
        StreamLock.claimPartForTransaction(connection, stream, part.name());
        var record = store.part(connection, stream, part.name()).orElse(new PartStore.PartRecord(null, null));
        Optional<PartStore.Staged> staged = record.stagedIn(load.id());
        if (staged.isPresent()) {
            progress.stagedBefore(staged.get().copy().rows());
            return new Outcome(part.name(), Result.STAGED_BEFORE, staged.get().copy().rows(), staged.get().copy().bytes());
        }
        long started = System.nanoTime();
        Optional<PartStore.Copy> kept = keepUnchanged ? record.publishedCopy().filter(copy -> unchanged(db, part, copy)) : Optional.empty();
        if (kept.isPresent()) {
            store.savePart(connection, stream, part.name(), new PartStore.PartRecord(record.published(),
                new PartStore.Staged(load.id(), true, kept.get())), run.runId());
            lock.confirm(connection);
            progress.finished(part.name(), true, kept.get().rows(), millisSince(started));
            return new Outcome(part.name(), Result.KEPT, kept.get().rows(), 0);
        }
        TableRef table = bronze.partTable(load.id(), task.planned().index());
        CopyPipe.Result copied = copy(connection, part, bronze.create(db, table, part.relation()));
        bronze.finish(db, table, part.name(), part.relation());
        var copy = new PartStore.Copy(table.schema(), table.table(), part.oid(), part.bounds(), copied.rows(), copied.bytes(),
            plan.horizon(), run.runId());
        store.savePart(connection, stream, part.name(), new PartStore.PartRecord(record.published(),
            new PartStore.Staged(load.id(), false, copy)), run.runId());
        runs.addProgress(connection, run.runId(), copied.rows(), copied.bytes());
        lock.confirm(connection);
        progress.finished(part.name(), false, copied.rows(), millisSince(started));
        return new Outcome(part.name(), Result.COPIED, copied.rows(), copied.bytes());
    }

    /** Whether the published copy is still in bronze and the part has not changed since (the rule is PartitionedSource's). */
    private boolean unchanged(DSLContext db, Part part, PartStore.Copy copy) {
        return bronze.holds(db, copy.ref())
            && source().unchangedSince(part, new PartitionedSource.EarlierCopy(copy.oid(), copy.bounds(), copy.rows(), copy.horizon()));
    }

    private CopyPipe.Result copy(Connection connection, Part part, String copyIn) throws SQLException {
        CopyPipe.Result result = CopyPipe.transfer(connection, copyIn, () -> source().startCopy(part), progress.of(part.name()));
        session.copyDone();
        return result;
    }

    /** The worker's source session, begun in the load's snapshot when first needed or after a failure. */
    private PartitionedSource source() {
        if (session == null) {
            session = SourceSession.begin(source, Optional.of(plan.snapshot()));
        }
        return new PartitionedSource(session, plan.read());
    }

    private void closeSession() {
        if (session != null) {
            session.close();
            session = null;
        }
    }

    private static long millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }
}
