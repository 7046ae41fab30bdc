package datakit.cdc;

import datakit.cdc.pgoutput.PgOutput;
import datakit.wal.Lsn;
import java.nio.ByteBuffer;
import java.sql.SQLException;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.postgresql.replication.PGReplicationStream;

/**
 * Reads the replication stream on a thread of its own, so the server never waits while changes are
 * written to the warehouse: messages go into a bounded queue, and the blocks of transactions streamed
 * while in progress go to local files ({@link MessageFraming}), however long the warehouse takes
 * to write the transaction before. It is the only user of the stream: it also sends the slot the
 * positions the writer confirms ({@link SlotFeedback}). It ends the queue with {@link End} at a transaction boundary, once
 * it has everything up to the end position (a bounded run) or when asked to stop. The writer decodes the messages.
 *
 * <p>While nothing comes, it asks the server how far it has read the WAL (a status update that
 * requests a reply). The server answers with its sent position, past which nothing can still come for
 * a transaction that committed before: so the position moves on with the server's WAL even when none
 * of it is for this stream, and a bounded run knows exactly when it has everything before its end.
 * Asking is also writing, which is how a connection the server closed is noticed within a second.
 * After its End the reader goes on reporting every second until closed: the server ends a connection it
 * has not heard from for wal_sender_timeout, and the run's last batch may take longer to commit.
 */
final class MessageReader implements AutoCloseable {
    private static final int QUEUE_MESSAGES = 20_000;
    /** How often a bounded run asks while it waits to reach its end position: a run with nothing to do ends this soon. */
    private static final long ASK_FOR_END_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /** How often a followed stream asks while quiet. */
    private static final long ASK_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** How often the server hears from the reader while it reads nothing (the writer is busy, or the run is ending). */
    private static final long STATUS_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** While nothing comes, the reader looks again after 2 ms, then less often, up to every 32 ms: little CPU while idle. */
    private static final long QUIET_SLEEP_FIRST_MS = 2;
    private static final long QUIET_SLEEP_MAX_MS = 32;

    /** What the writer takes from the queue. */
    public sealed interface Item {
    }

    /** A message as the server sent it, outside any streamed block. */
    public record Message(ByteBuffer bytes) implements Item {
    }

    /** A Stream Commit, with the messages of its transaction. */
    public record Streamed(PgOutput.StreamCommit commit, StreamedTransactions.Spooled messages) implements Item {
    }

    /**
     * Nothing more: the run's end position is reached, or it was asked to stop. {@code through} is the
     * position the server had sent when the queue ended, at a transaction boundary: every transaction that
     * committed before it is in the queue, so it is where the next run may start.
     */
    public record End(Lsn through) implements Item {
    }

    /** Reading failed. */
    public record Failed(Exception cause) implements Item {
    }

    private final PGReplicationStream stream;
    private final BlockingQueue<Item> queue = new ArrayBlockingQueue<>(QUEUE_MESSAGES);
    /** The reader's thread's place in the stream: inside a transaction, inside a streamed block. */
    private final MessageFraming framing = new MessageFraming();
    private final SlotFeedback feedback;
    private final Thread thread;
    /** Where a bounded run ends; empty while it follows. */
    private volatile Optional<Lsn> end;
    private volatile Lsn receivedThrough;
    private volatile boolean stopping;
    private volatile boolean closed;

    /** @param end where a bounded run ends (empty: follow until stopped) */
    MessageReader(PGReplicationStream stream, Optional<Lsn> end) {
        this.stream = stream;
        this.feedback = new SlotFeedback(stream);
        this.end = end;
        this.receivedThrough = lastReceived();
        this.thread = new Thread(this::readAll, "cdc-reader");
        thread.setDaemon(true);
        thread.start();
    }

    /** The next item, or null when none came within {@code millis}. */
    public Item poll(long millis) throws InterruptedException {
        return queue.poll(millis, TimeUnit.MILLISECONDS);
    }

    /**
     * How far the server's messages have been put in the queue. Read it before finding the queue empty:
     * then everything up to it has been taken.
     */
    Lsn receivedThrough() {
        return receivedThrough;
    }

    /** Tells the slot, from the reader's thread, that everything before {@code lsn} is safe in the warehouse. */
    public void confirm(Lsn lsn) {
        feedback.confirm(lsn);
    }

    /** Ends the queue at the next transaction boundary. */
    public void stop() {
        stopping = true;
    }

    /** A bounded run ends earlier, at the first transaction boundary at or past {@code lsn}. */
    void endAt(Lsn lsn) {
        if (end.filter(lsn::isBefore).isPresent()) {
            end = Optional.of(lsn);
        }
    }

    private void readAll() {
        try {
            if (readUntilEnd()) {
                reportUntilClosed();
            }
        } catch (SQLException | RuntimeException e) {
            offer(new Failed(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            offer(new Failed(new SQLException("the replication reader was interrupted", "57014", e)));
        } catch (Error e) {
            offer(new Failed(new IllegalStateException("the replication reader failed: " + e, e)));
            throw e;
        }
    }

    /** Reads into the queue until it ends it with {@link End}; false when closed before. */
    private boolean readUntilEnd() throws SQLException, InterruptedException {
        long lastAsk = 0;
        long sleepMs = QUIET_SLEEP_FIRST_MS;
        while (!closed) {
            feedback.sendConfirmed();
            ByteBuffer message = stream.readPending();
            if (message != null) {
                Optional<Item> item = framing.take(message);
                if (item.isPresent()) {
                    put(item.get());
                }
                sleepMs = QUIET_SLEEP_FIRST_MS;
            }
            receivedThrough = lastReceived();
            // A busy stream may never go quiet: a bounded run ends at the first boundary past its end.
            if (framing.atBoundary() && (stopping || reachedEnd())) {
                put(new End(receivedThrough));
                return true;
            }
            if (message == null) {
                if (System.nanoTime() - lastAsk > (end.isPresent() ? ASK_FOR_END_NANOS : ASK_NANOS)) {
                    feedback.askServer(); // the reply: the server's sent position
                    lastAsk = System.nanoTime();
                }
                Thread.sleep(sleepMs);
                sleepMs = Math.min(2 * sleepMs, QUIET_SLEEP_MAX_MS);
            }
        }
        return false;
    }

    /** How far the server's messages have been received: PgJDBC's position, taken at this boundary. */
    private Lsn lastReceived() {
        return Lsn.of(stream.getLastReceiveLSN().asLong());
    }

    private boolean reachedEnd() {
        return end.filter(at -> !receivedThrough.isBefore(at)).isPresent();
    }

    /**
     * After the End, until closed: the writer may take long to commit the last batch, and the server ends a
     * connection it has not heard from for wal_sender_timeout, taking the run's last confirmation with it.
     */
    private void reportUntilClosed() throws InterruptedException {
        try {
            while (!closed) {
                feedback.sendConfirmed();
                if (feedback.nanosSinceStatus() >= STATUS_NANOS) {
                    feedback.askServer();
                }
                Thread.sleep(QUIET_SLEEP_MAX_MS);
            }
        } catch (SQLException e) {
            feedback.failed(e);
        }
    }

    /**
     * Waits for room in the queue. While the writer is busy (a large batch, a table rewrite) the server
     * still hears from the reader, or it would end the connection after wal_sender_timeout.
     */
    private void put(Item item) throws InterruptedException {
        while (!closed) {
            if (queue.offer(item, 100, TimeUnit.MILLISECONDS)) {
                return;
            }
            if (feedback.nanosSinceStatus() > STATUS_NANOS) {
                feedback.keepAlive();
            }
        }
    }

    private void offer(Item item) {
        try {
            put(item);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops reading, tells the slot the last position the writer confirmed (the run's last commit) and ends
     * the stream, and removes the files of streamed transactions not written. The server answers the end of
     * the stream once it has taken every message before it: a connection it had closed fails here, where a
     * write alone may not.
     */
    @Override
    public void close() {
        closed = true;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
            if (!thread.isAlive()) {
                feedback.sendConfirmed();
                stream.close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (SQLException e) {
            feedback.failed(e);
        }
        Item left;
        while ((left = queue.poll()) != null) {
            if (left instanceof Streamed streamed) {
                streamed.messages().delete();
            }
        }
        framing.close();
    }

    /**
     * Once closed: why the slot could not be told of the last position the writer confirmed, if it could not.
     * It then keeps WAL from an earlier position until the next run tells it; nothing is lost.
     */
    Optional<String> unconfirmed() {
        return feedback.unconfirmed();
    }
}
