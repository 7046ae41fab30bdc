package datakit.checkpoint;

import java.util.Optional;

/**
 * Where an incremental stream resumes. Each kind remembers what it was taken with ({@code filter}: the
 * stream's --where and --columns), so a checkpoint taken for other rows is noticed, not reused, and where
 * the source stood when it was read ({@code source}), so a source behind it is noticed too.
 */
public sealed interface Checkpoint permits CursorCheckpoint, XminCheckpoint {

    /** The --where and --columns the checkpoint was taken with, in a stable text form. */
    String filter();

    /**
     * The source's cluster and WAL position when the run that wrote the checkpoint read it; empty when the source would not
     * tell, and in checkpoints written before positions were kept.
     */
    Optional<SourcePosition> source();

    /** The same checkpoint, read at {@code source}. */
    Checkpoint readAt(Optional<SourcePosition> source);

    /** For people and the {@code _bronze_checkpoint} column. */
    String describe();

    /**
     * Why a source that stands at {@code now} is behind what the run that wrote this checkpoint read, if both positions are
     * known and it is (see {@link SourcePosition#behind}).
     */
    default Optional<String> behindAt(Optional<SourcePosition> now) {
        return now.flatMap(n -> source().flatMap(n::behind));
    }
}
