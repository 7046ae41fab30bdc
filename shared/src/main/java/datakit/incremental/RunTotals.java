package datakit.incremental;

import datakit.db.CopyPipe;
import java.util.LinkedHashMap;
import java.util.Map;

/** What an incremental run has committed so far, across its attempts, and what the part in progress would add. */
final class RunTotals {
    long rows;
    long bytes;
    final Map<String, Object> details = new LinkedHashMap<>();
    private final Map<String, Long> rejected = new LinkedHashMap<>();
    private long pendingRows;
    private long pendingBytes;
    private long pendingSkipped;
    private Map<String, Long> pendingRejected = Map.of();

    /** Values the part set aside in _bronze_rejects, per column, counted once the part commits. */
    void pendingRejected(Map<String, Long> counts) {
        pendingRejected = counts;
    }

    void pending(CopyPipe.Result result, long written) {
        pendingRows = result.rows();
        pendingBytes = result.bytes();
        pendingSkipped = result.rows() - written;
    }

    void commitPending() {
        rows += pendingRows;
        bytes += pendingBytes;
        if (pendingSkipped > 0) {
            details.merge("skipped_keys", pendingSkipped, (a, b) -> (Long) a + (Long) b);
        }
        if (!pendingRejected.isEmpty()) {
            pendingRejected.forEach((column, count) -> rejected.merge(column, count, Long::sum));
            details.put("rejected", rejected);
        }
        dropPending();
    }

    void dropPending() {
        pendingRows = 0;
        pendingBytes = 0;
        pendingSkipped = 0;
        pendingRejected = Map.of();
    }
}
