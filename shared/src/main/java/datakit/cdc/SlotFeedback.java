package datakit.cdc;

import datakit.db.SqlErrors;
import datakit.wal.Lsn;
import java.sql.SQLException;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;

/**
 * What the reader tells the server over the replication stream: the newest position the writer confirmed
 * safe in the warehouse (the slot may then free the WAL before it), and status updates that ask for the
 * server's reply or only show the reader is alive. The writer confirms from its own thread; everything is
 * sent from the reader's thread, then from its close.
 */
final class SlotFeedback {
    private final PGReplicationStream stream;
    private final AtomicReference<Lsn> confirmed = new AtomicReference<>(Lsn.ZERO);
    /** The position the slot was last told, and why a later one could not be told. */
    private Lsn sent = Lsn.ZERO;
    private volatile Exception failure;
    private long lastStatus = System.nanoTime();

    SlotFeedback(PGReplicationStream stream) {
        this.stream = stream;
    }

    /** Everything before {@code lsn} is safe in the warehouse (from the writer's thread). */
    void confirm(Lsn lsn) {
        confirmed.accumulateAndGet(lsn, Lsn::max);
    }

    /** Tells the slot the newest position the writer confirmed, if it has not heard it yet. */
    void sendConfirmed() throws SQLException {
        Lsn confirm = confirmed.get();
        if (confirm.isAfter(sent)) {
            var position = LogSequenceNumber.valueOf(confirm.value());
            stream.setFlushedLSN(position);
            stream.setAppliedLSN(position);
            stream.forceUpdateStatus();
            sent = confirm;
            lastStatus = System.nanoTime();
        }
    }

    /** A status update that requests a reply: the server answers with its sent position. */
    void askServer() throws SQLException {
        stream.forceUpdateStatus();
        lastStatus = System.nanoTime();
    }

    /** Lets the server hear from the reader while it reads nothing; a connection gone is left for the next read to report. */
    void keepAlive() {
        try {
            sendConfirmed();
            stream.forceUpdateStatus();
        } catch (SQLException e) {
            // The next read reports a connection that is gone.
        }
        lastStatus = System.nanoTime();
    }

    /** How long ago the server last heard from the reader. */
    long nanosSinceStatus() {
        return System.nanoTime() - lastStatus;
    }

    /** The last position could not be told: {@link #unconfirmed()} says why. */
    void failed(Exception e) {
        failure = e;
    }

    /**
     * Why the slot could not be told of the last position the writer confirmed, if it could not. It then
     * keeps WAL from an earlier position until the next run tells it; nothing is lost.
     */
    Optional<String> unconfirmed() {
        Exception cause = failure;
        if (cause != null) {
            return Optional.of(SqlErrors.serverMessage(cause));
        }
        return confirmed.get().isAfter(sent) ? Optional.of("the replication reader did not stop") : Optional.empty();
    }
}
