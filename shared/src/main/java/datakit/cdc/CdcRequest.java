package datakit.cdc;

import datakit.sql.TableRef;
import java.util.List;
import java.util.Optional;

/**
 * A change stream as asked for on the command line.
 *
 * @param tables      the tables to capture; empty for the publication's (or all)
 * @param snapshot    initial, never or always
 * @param apply       whether each bronze table is kept equal to its source table
 * @param streaming   whether large transactions are received while in progress (protocol version 2)
 * @param lagWarning  retained WAL, in bytes, above which the run warns
 * @param heartbeatSeconds how often a followed stream writes a logical message into the source's WAL; 0 for never
 * @param resnapshot  tables of the stream to load again from a snapshot taken while it runs ({@link TableSnapshot})
 * @param where       with one table to load again: the condition on the rows loaded (a partial backfill)
 * @param resnapshotLostSlot whether a slot lost since the last run is made again with a new snapshot (else the run fails)
 */
public record CdcRequest(List<TableRef> tables, String slot, String publication, String snapshot, boolean follow, boolean apply, boolean streaming, boolean dropSlot,
                         long lagWarning, int heartbeatSeconds, List<TableRef> resnapshot, Optional<String> where,
                         boolean resnapshotLostSlot) {

    /** The stream's name in extraction_runs and extraction_checkpoints. */
    public String stream() {
        return "cdc:" + slot;
    }

    boolean snapshotAlways() {
        return snapshot.equals("always");
    }

    boolean snapshotNever() {
        return snapshot.equals("never");
    }
}
