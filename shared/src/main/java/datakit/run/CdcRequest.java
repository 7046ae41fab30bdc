package datakit.run;

import datakit.sql.TableRef;
import java.util.List;

/**
 * A change stream as asked for on the command line.
 *
 * @param tables      the tables to capture; empty for the publication's (or all)
 * @param snapshot    initial, never or always
 * @param lagWarning  retained WAL, in bytes, above which the run warns
 */
public record CdcRequest(List<TableRef> tables, String slot, String publication, String snapshot, boolean follow, boolean dropSlot,
                         long lagWarning) {

    /** The stream's name in extraction_runs and extraction_checkpoints. */
    public String stream() {
        return "cdc:" + slot;
    }

    public boolean snapshotAlways() {
        return snapshot.equals("always");
    }

    public boolean snapshotNever() {
        return snapshot.equals("never");
    }
}
