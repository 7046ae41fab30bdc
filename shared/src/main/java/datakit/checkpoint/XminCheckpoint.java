package datakit.checkpoint;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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
 * still follow the snapshot's list. The ids are kept as ranges of consecutive ids ({@link XidRanges}).
 */
public record XminCheckpoint(String snapshot, Optional<XidRanges> seen, String filter, Map<String, String> columnsRead,
                             Optional<SourcePosition> source) implements Checkpoint {
    private static final int RANGES_DESCRIBED = 3;

    public XminCheckpoint {
        columnsRead = Collections.unmodifiableMap(new LinkedHashMap<>(columnsRead));
    }

    /** A checkpoint whose source position is not known. */
    public XminCheckpoint(String snapshot, Optional<XidRanges> seen, String filter, Map<String, String> columnsRead) {
        this(snapshot, seen, filter, columnsRead, Optional.empty());
    }

    @Override
    public XminCheckpoint readAt(Optional<SourcePosition> source) {
        return new XminCheckpoint(snapshot, seen, filter, columnsRead, source);
    }

    /** The snapshot's xmin: every transaction before it had ended. */
    public long xmin() {
        return xmin(snapshot);
    }

    /** The snapshot's xmax: the transaction after the last one it saw end. */
    long xmax() {
        return xmax(snapshot);
    }

    private static long xmin(String snapshot) {
        return Long.parseLong(snapshot.substring(0, snapshot.indexOf(':')));
    }

    private static long xmax(String snapshot) {
        return Long.parseLong(snapshot.split(":")[1]);
    }

    /**
     * Why a source whose snapshot is {@code current}, and which has not committed {@code notCommitted} of the transactions
     * this checkpoint read, is behind what it read, if it is: a lagging standby read after its primary, a restored backup.
     * Reading it would put older versions back. A snapshot that holds the checkpoint's has an xmin and an xmax no smaller,
     * and has seen every transaction the checkpoint read commit. It adds to the comparison of WAL positions every mode makes
     * ({@link #behindAt}), and holds where those are unknown.
     */
    public Optional<String> behind(String current, XidRanges notCommitted) {
        if (xmin(current) < xmin() || xmax(current) < xmax()) {
            return Optional.of("its snapshot %s is older than the checkpoint's %s".formatted(current, snapshot));
        }
        if (!notCommitted.isEmpty()) {
            return Optional.of("%d of the transactions whose rows the last run read (%s) are not committed there yet"
                .formatted(notCommitted.count(), notCommitted.describe(RANGES_DESCRIBED)));
        }
        return Optional.empty();
    }

    @Override
    public String describe() {
        return seen.map(ids -> "transactions from " + xmin() + " on" + (ids.isEmpty() ? "" : " but " + ids.describe(RANGES_DESCRIBED))
                + " (snapshot " + snapshot + ")")
            .orElse("transactions not visible in snapshot " + snapshot);
    }
}
