package datakit.cdc;

import datakit.wal.Lsn;

/**
 * The end of the WAL written so far, as a walsender will report it. {@code pg_current_wal_insert_lsn()}
 * is where the next record goes: when the last record ended exactly at a page's end, that is after the
 * next page's header, a position no record ends at. A walsender that has read everything then reports
 * the page's start, and a run waiting for the insert position would wait for WAL that may never come.
 */
final class WalEnd {
    /** The header of a WAL page (SizeOfXLogShortPHD), and of a segment's first page (SizeOfXLogLongPHD). */
    static final int PAGE_HEADER = 24;
    static final int SEGMENT_HEADER = 40;

    private WalEnd() {
    }

    /** The end of the last record before {@code insert}, for pages of {@code blockSize} and segments of {@code segmentSize} bytes. */
    static Lsn ofInsertPosition(Lsn insert, int blockSize, long segmentSize) {
        if (Long.remainderUnsigned(insert.value(), segmentSize) == SEGMENT_HEADER) {
            return insert.minus(SEGMENT_HEADER);
        }
        if (Long.remainderUnsigned(insert.value(), blockSize) == PAGE_HEADER) {
            return insert.minus(PAGE_HEADER);
        }
        return insert;
    }
}
