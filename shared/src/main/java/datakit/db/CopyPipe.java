package datakit.db;

import java.sql.SQLException;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyOperation;
import org.postgresql.copy.CopyOut;

/**
 * Streams a COPY out of one database into a COPY into another without looking inside the rows, so
 * memory stays constant (one row plus a 64 KiB buffer) whatever the table size. Small rows are
 * gathered into larger CopyData messages, which saves work on the receiving server.
 */
public final class CopyPipe {
    private static final int BUFFER_BYTES = 1 << 16;
    private static final int PROGRESS_EVERY_MESSAGES = 1 << 12;

    private CopyPipe() {
    }

    /**
     * Told, every few thousand rows, how far the stream got: rows counted as COPY messages (one per
     * row, plus the trailer), exact at the end, and bytes of COPY data.
     */
    @FunctionalInterface
    public interface Progress {
        void advanced(long rows, long bytes);
    }

    /** Rows as counted by both servers, and bytes of COPY data streamed. */
    public record Result(long rows, long bytes) {
    }

    /**
     * Pumps every row from {@code out} into {@code in}, then completes both. On any failure both
     * COPYs are cancelled, so the receiving transaction can only be rolled back, never half-committed.
     */
    public static Result pump(CopyOut out, CopyIn in, Progress progress) throws SQLException {
        byte[] buffer = new byte[BUFFER_BYTES];
        int used = 0;
        long messages = 0;
        long bytes = 0;
        try {
            byte[] row;
            while ((row = out.readFromCopy()) != null) {
                messages++;
                bytes += row.length;
                if (used + row.length > buffer.length && used > 0) {
                    in.writeToCopy(buffer, 0, used);
                    used = 0;
                }
                if (row.length >= buffer.length) {
                    in.writeToCopy(row, 0, row.length);
                } else {
                    System.arraycopy(row, 0, buffer, used, row.length);
                    used += row.length;
                }
                if (messages % PROGRESS_EVERY_MESSAGES == 0) {
                    progress.advanced(messages, bytes);
                }
            }
            if (used > 0) {
                in.writeToCopy(buffer, 0, used);
            }
            long loaded = in.endCopy();
            long read = out.getHandledRowCount();
            if (loaded != read) {
                throw new SQLException("the source sent " + read + " rows but the warehouse loaded " + loaded, "XX000");
            }
            progress.advanced(loaded, bytes);
            return new Result(loaded, bytes);
        } catch (SQLException | RuntimeException e) {
            cancel(out, e);
            cancel(in, e);
            throw e;
        }
    }

    private static void cancel(CopyOperation copy, Exception failure) {
        try {
            if (copy.isActive()) {
                copy.cancelCopy();
            }
        } catch (SQLException | RuntimeException e) {
            failure.addSuppressed(e);
        }
    }
}
