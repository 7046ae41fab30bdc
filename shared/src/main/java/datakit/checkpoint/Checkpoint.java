package datakit.checkpoint;

/**
 * Where an incremental stream resumes. Each kind remembers what it was taken with ({@code filter}: the
 * stream's --where and --columns), so a checkpoint taken for other rows is noticed, not reused.
 */
public sealed interface Checkpoint permits CursorCheckpoint, XminCheckpoint {

    /** The --where and --columns the checkpoint was taken with, in a stable text form. */
    String filter();

    /** For people and the {@code _bronze_checkpoint} column. */
    String describe();
}
