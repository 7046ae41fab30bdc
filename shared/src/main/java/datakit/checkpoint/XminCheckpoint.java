package datakit.checkpoint;

import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * An xmin stream's checkpoint: the transactions whose rows the last run read. Every transaction before its
 * snapshot's xmin ({@code pg_current_snapshot()} text, {@code xmin:xmax:in-progress ids}) had ended, so its
 * rows were read; of the later ones, the run read those in {@code seen}, the ids found on the rows its
 * snapshot showed. The next run reads the rows of every other transaction from that xmin on: one still
 * open then is read once it commits, and none twice.
 *
 * <p>{@code seen} comes from the rows because the snapshot's list of transactions in progress is not
 * enough: a hot standby lists none (it keeps them elsewhere, and exposes only the xmin), and no snapshot
 * lists subtransactions, whose rows carry ids of their own. Checkpoints written without {@code seen}
 * still follow the snapshot's list.
 */
public record XminCheckpoint(String snapshot, Optional<List<Long>> seen, String filter) implements Checkpoint {
    private static final int IDS_DESCRIBED = 3;

    public XminCheckpoint {
        seen = seen.map(List::copyOf);
    }

    /** The snapshot's xmin: every transaction before it had ended. */
    public long xmin() {
        return Long.parseLong(snapshot.substring(0, snapshot.indexOf(':')));
    }

    @Override
    public String describe() {
        return seen.map(ids -> "transactions from " + xmin() + " on" + (ids.isEmpty() ? "" : " but " + some(ids))
                + " (snapshot " + snapshot + ")")
            .orElse("transactions not visible in snapshot " + snapshot);
    }

    /** A few ids, and how many more: the description lands on every row loaded. */
    private static String some(List<Long> ids) {
        String shown = ids.stream().limit(IDS_DESCRIBED).map(String::valueOf).collect(Collectors.joining(", "));
        return ids.size() <= IDS_DESCRIBED ? shown : shown + " and " + (ids.size() - IDS_DESCRIBED) + " more";
    }
}
