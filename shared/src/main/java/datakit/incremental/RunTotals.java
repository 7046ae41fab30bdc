package datakit.incremental;

import datakit.bronze.BronzeLoad;
import datakit.db.CopyPipe;
import datakit.report.RunContext;
import datakit.bronze.WriteMode;
import datakit.run.JsonLoad;
import datakit.run.SchemaChangeNotes;
import java.util.LinkedHashMap;
import java.util.Map;

/** What an incremental run has committed so far, across its attempts, and what the part in progress would add. */
final class RunTotals {
    long rows;
    long bytes;
    final Map<String, Object> details = new LinkedHashMap<>();
    /** The schema changes the run's parts recorded, which it says once and the details show. */
    final SchemaChangeNotes schemaChanges;
    /** What the committed parts did for JSON (values set aside in _bronze_rejects), which the details show. */
    private final JsonLoad json;
    private long pendingRows;
    private long pendingBytes;
    private long pendingSkipped;

    RunTotals(JsonLoad json, RunContext run, WriteMode mode) {
        this.json = json;
        this.schemaChanges = new SchemaChangeNotes(run, mode);
    }

    /** The part's rows, and what its {@code finished} load wrote and set aside, counted once the part commits. */
    void pending(CopyPipe.Result result, BronzeLoad finished, long written) {
        pendingRows = result.rows();
        pendingBytes = result.bytes();
        pendingSkipped = result.rows() - written;
        json.finished(finished);
    }

    /** The details as they read once the pending part commits, for a success recorded in that part's own transaction. */
    Map<String, Object> detailsOnceCommitted() {
        var once = new LinkedHashMap<>(details);
        if (pendingSkipped > 0) {
            once.merge("skipped_keys", pendingSkipped, (a, b) -> (Long) a + (Long) b);
        }
        json.addWithPendingTo(once);
        schemaChanges.addTo(once);
        return once;
    }

    void commitPending() {
        rows += pendingRows;
        bytes += pendingBytes;
        if (pendingSkipped > 0) {
            details.merge("skipped_keys", pendingSkipped, (a, b) -> (Long) a + (Long) b);
        }
        json.committed();
        json.addTo(details);
        schemaChanges.addTo(details);
        dropPending();
    }

    void dropPending() {
        pendingRows = 0;
        pendingBytes = 0;
        pendingSkipped = 0;
        json.dropPending();
    }
}
