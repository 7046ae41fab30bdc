package datakit.db;

import java.sql.Connection;
import java.sql.SQLException;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyOperation;
import org.postgresql.copy.CopyOut;

/**
 * The one way into a {@code COPY ... FROM STDIN} on the warehouse: it opens the COPY, lets a feed write into it, and
 * then always either completes it or, on any failure (the feed's start included), cancels it. A COPY left open keeps
 * its connection in the middle of the protocol; one completed after a failure would commit what arrived so far when
 * the caller commits. Cancelled, the COPY fails its transaction, which can then only be rolled back, and the
 * connection stays usable.
 *
 * <p>From a source's {@code COPY ... TO STDOUT}, the rows stream through without being looked at, so memory stays
 * constant (one row plus a 64 KiB buffer) whatever the table size. Small rows are gathered into larger CopyData
 * messages, which saves work on the receiving server.
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

    /** Writes the data of a COPY into it while it is open; {@link #copyIn} completes or cancels it afterwards. */
    @FunctionalInterface
    public interface Feed {
        void writeTo(CopyIn copy) throws SQLException;
    }

    /** Starts the source's {@code COPY ... TO STDOUT}, once the warehouse's COPY is open. */
    @FunctionalInterface
    public interface Source {
        CopyOut start() throws SQLException;
    }

    /**
     * Runs {@code copyIn} on {@code warehouse} with what {@code feed} writes, and returns the rows the warehouse
     * loaded. Keep the connection in a transaction: the COPY is cancelled on any failure, so the caller rolls back.
     */
    public static long copyIn(Connection warehouse, String copyIn, Feed feed) throws SQLException {
        CopyIn copy = warehouse.unwrap(PGConnection.class).getCopyAPI().copyIn(copyIn);
        try {
            feed.writeTo(copy);
            return copy.endCopy();
        } catch (Throwable e) {
            cancel(copy, e);
            throw e;
        }
    }

    /**
     * Streams every row of the source's COPY into {@code copyIn} on {@code warehouse}, then completes both, and
     * checks that both servers counted the same rows. On any failure both COPYs are cancelled, so the receiving
     * transaction can only be rolled back, never half-committed.
     */
    public static Result transfer(Connection warehouse, String copyIn, Source source, Progress progress) throws SQLException {
        var pump = new Pump(source, progress);
        long loaded = copyIn(warehouse, copyIn, pump);
        long read = pump.out.getHandledRowCount();
        if (loaded != read) {
            throw new SQLException("the source sent " + read + " rows but the warehouse loaded " + loaded, "XX000");
        }
        progress.advanced(loaded, pump.bytes);
        return new Result(loaded, pump.bytes);
    }

    /** Moves the rows of a source's COPY into the warehouse's, gathered into buffers of up to 64 KiB. */
    private static final class Pump implements Feed {
        private final Source source;
        private final Progress progress;
        private CopyOut out;
        private long bytes;

        Pump(Source source, Progress progress) {
            this.source = source;
            this.progress = progress;
        }

        @Override
        public void writeTo(CopyIn in) throws SQLException {
            out = source.start();
            try {
                pump(in);
            } catch (Throwable e) {
                cancel(out, e);
                throw e;
            }
        }

        private void pump(CopyIn in) throws SQLException {
            byte[] buffer = new byte[BUFFER_BYTES];
            int used = 0;
            long messages = 0;
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
        }
    }

    private static void cancel(CopyOperation copy, Throwable failure) {
        try {
            if (copy.isActive()) {
                copy.cancelCopy();
            }
        } catch (SQLException | RuntimeException e) {
            failure.addSuppressed(e);
        }
    }
}
