package datakit.checkpoint;

import java.util.Map;
import java.util.Optional;

/**
 * Where an incremental stream resumes. Each kind remembers what it was taken with ({@code filter}: the
 * stream's --where and --columns, see {@link ReadFilter}), so a checkpoint taken for other rows is noticed,
 * not reused; the source columns its run read, each with its schema hash ({@code columnsRead}, see
 * {@code source.SchemaFingerprint}), so the next run can find values DDL changed without writing rows; and where the source stood when it was read ({@code source}), so a source behind it
 * is noticed too.
 */
public sealed interface Checkpoint permits CursorCheckpoint, XminCheckpoint {

    /** The --where and --columns the checkpoint was taken with, as {@link ReadFilter#text()} wrote it (or its older form). */
    String filter();

    /**
     * The source columns the run that wrote it read, each with the hash of what decides its values ("" where not known: in
     * checkpoints older than these hashes); empty in checkpoints older than column lists and filters.
     */
    Map<String, String> columnsRead();

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
