package datakit.incremental;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.StreamGuard;
import datakit.bronze.BronzeTable;
import datakit.bronze.TypeWidening;
import datakit.bronze.WriteMode;
import datakit.checkpoint.Checkpoint;
import datakit.checkpoint.CursorCheckpoint;
import datakit.checkpoint.XidRanges;
import datakit.checkpoint.XminCheckpoint;
import datakit.error.DatakitException;
import datakit.error.ExitCode;
import datakit.source.IncrementalSource;
import datakit.source.Selection;
import datakit.source.SourceProgress;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.util.Optional;

/**
 * Whether a stream's stored checkpoint still fits what this run reads, and if not, what happens: the
 * run stops with the reason, or (--on-bad-checkpoint full-refresh) reloads the table and says why.
 */
final class CheckpointCheck {
    /** What a run on a source behind its checkpoint did, after why the source is behind. */
    static final String BEHIND_OUTCOME = ". Nothing was loaded and the checkpoint is kept; a run on a source that has caught up "
        + "(a standby that replayed further, the primary) loads the changes";
    /** What it would do, in the dry run. */
    static final String BEHIND_PLAN = ". The run would load nothing and keep the checkpoint; the source SQL below is what a run on a "
        + "source that has caught up (a standby that replayed further, the primary) reads";

    /** Transaction ids: a snapshot older than this cannot be told apart from a new one after wraparound. */
    private static final long XID_HORIZON = 1L << 31;

    /** Why a checkpoint cannot be used, and the exit code if the run stops for it. */
    record Problem(String reason, ExitCode exitCode) {
        static Problem changedOption(String reason) {
            return new Problem(reason, ExitCode.BAD_INPUT);
        }

        static Problem lostState(String reason) {
            return new Problem(reason, ExitCode.NOT_READY);
        }
    }

    private CheckpointCheck() {
    }

    /**
     * What the run decides before it writes, and its dry run alike: it refuses a table that holds another stream or was loaded
     * in another mode ({@link StreamGuard}), and {@code runs} keeps what the stream meets of a rename of its source table (the
     * checkpoint is the stream's, so a rename keeps it); then, why it must reload everything, if it must: asked for, or a
     * checkpoint that no longer fits. Without --on-bad-checkpoint full-refresh, a checkpoint that does not fit stops the run instead.
     */
    static Optional<String> fullRefreshReason(Increment increment, WriteMode mode, IncrementalSource src, Optional<Checkpoint> stored,
                                              Optional<BronzeTable> existing, RunLog runs, Connection connection, String stream) {
        Selection selection = increment.selection();
        runs.follows(StreamGuard.check(runs, connection, stream, existing.isPresent(), selection.table().map(TableRef::toString),
            selection.renamedFrom().map(TableRef::toString), mode));
        if (increment.fullRefresh().isPresent()) {
            return increment.fullRefresh();
        }
        Optional<Problem> problem = problem(src, stored, existing, runs, connection, stream);
        if (problem.isEmpty()) {
            return Optional.empty();
        }
        if (increment.onBadCheckpoint() == Increment.BadCheckpoint.FULL_REFRESH) {
            return Optional.of(problem.get().reason());
        }
        throw new DatakitException(problem.get().exitCode(), ("The checkpoint of %s cannot be used: %s. Reload the table with "
            + "--full-refresh, or let such runs do it with --on-bad-checkpoint full-refresh.").formatted(stream, problem.get().reason()));
    }

    private static Optional<Problem> problem(IncrementalSource src, Optional<Checkpoint> stored, Optional<BronzeTable> existing, RunLog runs,
                                     Connection connection, String stream) {
        if (stored.isEmpty()) {
            boolean loadedBefore = existing.isPresent() && runs.lastSuccess(connection, stream)
                .filter(previous -> previous.mode().equals(IncrementalExtract.EXTRACTION_TYPE)).isPresent();
            return loadedBefore
                ? Optional.of(Problem.lostState("the checkpoint row of this stream is gone from extraction_checkpoints, though earlier runs loaded it"))
                : Optional.empty();
        }
        Checkpoint checkpoint = stored.get();
        if (existing.isEmpty()) {
            return Optional.of(Problem.lostState("the bronze table " + stream + " was dropped after the checkpoint (" + checkpoint.describe()
                + ") was taken"));
        }
        if (!src.filter().fits(checkpoint.filter())) {
            return Optional.of(Problem.changedOption("it was taken for " + checkpoint.filter() + ", and this run reads " + src.filter().text()));
        }
        return switch (checkpoint) {
            case XminCheckpoint x when src.cursorColumn().isPresent() ->
                Optional.of(Problem.changedOption("it follows transaction ids (xmin), and this run the cursor " + src.cursorColumn().get()));
            case XminCheckpoint x -> src.transactionsSince(x.snapshot()) >= XID_HORIZON
                ? Optional.of(Problem.lostState("its snapshot is " + src.transactionsSince(x.snapshot())
                    + " transactions old, too old to compare after wraparound"))
                : Optional.empty();
            case CursorCheckpoint c -> cursorProblem(c, src);
        };
    }

    /**
     * What a run does on a source behind what the run that wrote {@code stored} read, if the source is: a lagging standby read
     * after its primary, a restored backup. Re-reading there (a lookback, rows with a NULL cursor, xmin mode's transactions)
     * would put older row versions back over newer ones, and --detect-deletes would mark rows it has not seen yet as deleted:
     * the run loads nothing and keeps the checkpoint. Every mode compares WAL positions of one cluster ({@code progress}, asked
     * just before the snapshot, against the position the checkpoint was read at); xmin mode also compares the snapshots and
     * asks whether the transactions the checkpoint read are committed, which holds where positions are unknown.
     */
    static Optional<String> behind(Optional<Checkpoint> stored, SourceProgress progress, IncrementalSource src) {
        return stored.flatMap(c -> c.behindAt(progress.position())
                .or(() -> c instanceof XminCheckpoint x && src.cursorColumn().isEmpty() ? x.behind(src.snapshot(), progress.notCommitted())
                    : Optional.empty()))
            .map(reason -> "the source is behind what the last run read: " + reason);
    }

    /** The transactions an xmin checkpoint read, which {@link #behind} asks the source about before the snapshot. */
    static XidRanges transactionsRead(Optional<Checkpoint> stored) {
        return stored.orElse(null) instanceof XminCheckpoint x && x.seen().isPresent() ? x.seen().get() : XidRanges.NONE;
    }

    private static Optional<Problem> cursorProblem(CursorCheckpoint c, IncrementalSource src) {
        if (src.cursorColumn().isEmpty()) {
            return Optional.of(Problem.changedOption("it follows the cursor " + c.column() + ", and this run transaction ids (xmin)"));
        }
        if (!c.column().equals(src.cursorColumn().get())) {
            return Optional.of(Problem.changedOption("it follows cursor column " + c.column() + ", and this run " + src.cursorColumn().get()));
        }
        // A cursor whose type widened (integer to bigint) orders its values as before: the checkpoint's value reads the same.
        if (!TypeWidening.widens(c.type(), src.cursorType().orElseThrow())) {
            return Optional.of(Problem.changedOption("its cursor value has type " + c.type() + ", and the column " + c.column()
                + " is now of type " + src.cursorType().get()));
        }
        if (!c.keyColumns().equals(src.tieColumns())) {
            return Optional.of(Problem.changedOption("it orders ties by " + c.keyColumns() + ", and this run by " + src.tieColumns()));
        }
        return Optional.empty();
    }
}
