package datakit.checkpoint;

/**
 * An xmin stream's checkpoint: the snapshot the last run read in ({@code pg_current_snapshot()} text,
 * {@code xmin:xmax:in-progress ids}). The next run reads exactly the rows written by transactions that
 * snapshot did not see, so a transaction still open then is read once it commits, and none twice.
 */
public record XminCheckpoint(String snapshot, String filter) implements Checkpoint {

    /** The snapshot's xmin: every transaction before it had ended. */
    public long xmin() {
        return Long.parseLong(snapshot.substring(0, snapshot.indexOf(':')));
    }

    @Override
    public String describe() {
        return "transactions not visible in snapshot " + snapshot;
    }
}
