package datakit.cdc;

import java.util.List;
import java.util.stream.Stream;

/**
 * What a change capture took, for the summary: counted as of its last commit, since a batch rolled back
 * (its connection lost) is received again.
 */
record CaptureCounts(long transactions, long replays, List<String> schemaChanges, List<Recorded> recorded,
                     List<String> warnings) {
    static final CaptureCounts NOTHING = new CaptureCounts(0, 0, List.of(), List.of(), List.of());

    static CaptureCounts of(ChangeCapture capture) {
        return new CaptureCounts(capture.transactions(), capture.skippedTransactions(), List.copyOf(capture.schemaChanges()),
            List.copyOf(capture.recorded()), List.copyOf(capture.warnings()));
    }

    CaptureCounts plus(CaptureCounts more) {
        return new CaptureCounts(transactions + more.transactions, replays + more.replays,
            Stream.concat(schemaChanges.stream(), more.schemaChanges.stream()).toList(),
            Stream.concat(recorded.stream(), more.recorded.stream()).toList(),
            Stream.concat(warnings.stream(), more.warnings.stream()).toList());
    }
}
