package datakit.full;

import datakit.db.CopyPipe;
import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.report.Progress;
import datakit.report.RunContext;
import datakit.source.Part;
import datakit.source.PartitionedSource;
import datakit.source.ReadPlan;
import datakit.source.SourceSession;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A big table's rows copied in block ranges at once into the load's staging table, which its transaction created and
 * committed under a private name first: the load's own source session copies the first range in the load's transaction, and
 * a worker per other range copies it with a source session in the same exported snapshot, in a warehouse transaction of its
 * own, committed when the range is in. The load's transaction then puts the staging table in place, so bronze gets every
 * range or none; a failed load drops the staging table.
 */
final class BlockRanges {
    private BlockRanges() {
    }

    /** Copies every range; returns the rows and bytes of all of them, or throws the first failure once every worker stopped. */
    static CopyPipe.Result copy(RunContext run, Database source, Database warehouse, Connection transaction, SourceSession session,
                                String snapshot, ReadPlan plan, List<Part> ranges, String copyIn) throws SQLException {
        var progress = new Shared(new Progress(run.err(), run.terminal(), plan.describe(), plan.estimatedRows()));
        ExecutorService workers = Executors.newFixedThreadPool(ranges.size() - 1);
        try {
            var others = new ArrayList<Future<CopyPipe.Result>>();
            for (Part range : ranges.subList(1, ranges.size())) {
                others.add(workers.submit(() -> copyInWorker(source, warehouse, snapshot, plan, range, copyIn, progress.stream())));
            }
            Exception failure = null;
            long rows = 0;
            long bytes = 0;
            try {
                CopyPipe.Result first = CopyPipe.transfer(transaction, copyIn, () -> new PartitionedSource(session, plan).startCopy(ranges.get(0)),
                    progress.stream());
                session.copyDone();
                rows += first.rows();
                bytes += first.bytes();
            } catch (SQLException | RuntimeException e) {
                failure = e;
            }
            for (Future<CopyPipe.Result> other : others) {
                try {
                    CopyPipe.Result result = other.get();
                    rows += result.rows();
                    bytes += result.bytes();
                } catch (ExecutionException e) {
                    failure = failure == null ? (Exception) e.getCause() : failure;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failure = failure == null ? e : failure;
                }
            }
            if (failure instanceof SQLException sql) {
                throw sql;
            }
            if (failure != null) {
                throw failure instanceof RuntimeException r ? r : DatakitException.failed("Interrupted while copying " + plan.describe(), failure);
            }
            progress.done();
            run.info("copied %s in %d block ranges at once".formatted(plan.describe(), ranges.size()));
            return new CopyPipe.Result(rows, bytes);
        } finally {
            workers.shutdownNow();
        }
    }

    private static CopyPipe.Result copyInWorker(Database source, Database warehouse, String snapshot, ReadPlan plan, Part range,
                                                String copyIn, CopyPipe.Progress progress) throws SQLException {
        try (SourceSession session = SourceSession.begin(source, Optional.of(snapshot))) {
            // The load's own session holds the table: a read queued behind another session's exclusive lock would wait for ever.
            plan.table().ifPresent(session::lockSharedNowait);
            CopyPipe.Result result = warehouse.inTransaction(connection -> CopyPipe.transfer(connection, copyIn,
                () -> new PartitionedSource(session, plan).startCopy(range), progress));
            session.copyDone();
            return result;
        } catch (RuntimeException e) {
            throw SqlErrors.failure("Copying " + range.name(), e);
        }
    }

    /** One progress line for several streams: each reports its own totals, the line shows their sum. */
    private static final class Shared {
        private final Progress progress;
        private long rows;
        private long bytes;

        Shared(Progress progress) {
            this.progress = progress;
        }

        CopyPipe.Progress stream() {
            long[] last = new long[2];
            return (streamRows, streamBytes) -> {
                synchronized (this) {
                    rows += streamRows - last[0];
                    bytes += streamBytes - last[1];
                    last[0] = streamRows;
                    last[1] = streamBytes;
                    progress.advanced(rows, bytes);
                }
            };
        }

        synchronized void done() {
            progress.done();
        }
    }
}
