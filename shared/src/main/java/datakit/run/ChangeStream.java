package datakit.run;

import datakit.bronze.BronzeMetadata;
import datakit.cdc.CdcSource;
import datakit.cdc.ChangeCapture;
import datakit.cdc.ReplicationSession;
import datakit.cdc.SlotCheckpoint;
import datakit.db.Database;
import datakit.sql.TableRef;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;

/**
 * The streaming half of a change capture: reads the slot's messages, writes their changes in batches,
 * and commits each batch in one warehouse transaction with the checkpoint (the end LSN of its last
 * source transaction) before telling the slot it may forget them. A batch is committed when the stream
 * goes quiet, after a second, or after {@link #BATCH_CHANGES} changes, always at a transaction's end.
 * A bounded run stops once it has everything the server had written when it started; a followed one
 * stops on SIGTERM, after committing what it has.
 */
final class ChangeStream {
    private static final long BATCH_CHANGES = 200_000;
    private static final long BATCH_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long SENT_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
    private static final long IDLE_SLEEP_MS = 5;

    private final RunContext run;
    private final CdcSource src;
    private final ReplicationSession replication;
    private final Database warehouse;
    private final CdcRequest request;
    private final String bronzeSchema;
    private final Function<TableRef, Map<String, String>> landing;
    private final Function<TableRef, BronzeMetadata> metadata;
    private final boolean haltAfterCommit;
    private volatile boolean stopping;
    private final Map<String, Long> rowsPerTable = new LinkedHashMap<>();
    private long changes;
    private long bytes;

    /** What the stream did. */
    record Result(long transactions, long replaysSkipped, long changes, long bytes, Map<String, Long> rowsPerTable,
                  List<String> schemaChanges, String checkpoint, long durationMs) {
    }

    ChangeStream(RunContext run, CdcSource src, ReplicationSession replication, Database warehouse, CdcRequest request, String bronzeSchema,
                 Function<TableRef, Map<String, String>> landing, Function<TableRef, BronzeMetadata> metadata, boolean haltAfterCommit) {
        this.run = run;
        this.src = src;
        this.replication = replication;
        this.warehouse = warehouse;
        this.request = request;
        this.bronzeSchema = bronzeSchema;
        this.landing = landing;
        this.metadata = metadata;
        this.haltAfterCommit = haltAfterCommit;
    }

    Result run(LogSequenceNumber start, RunLog runs) throws SQLException {
        long started = System.nanoTime();
        Optional<LogSequenceNumber> end = request.follow() ? Optional.empty() : Optional.of(LogSequenceNumber.valueOf(src.currentLsn()));
        int walsender = replication.backendPid();
        var done = new CountDownLatch(1);
        Thread stopper = request.follow() ? stopOnSignal(done) : null;
        Connection connection = warehouse.connect();
        // Protocol version 2 (PostgreSQL 14+) sends a large transaction while it runs, instead of the server
        // spilling it to its own disk and sending it after its commit.
        boolean streaming = request.streaming() && src.serverVersion() >= 140000;
        try (PGReplicationStream stream = replication.start(request.slot(), request.publication(), start, streaming);
             var capture = new ChangeCapture(connection, run.runId(), bronzeSchema, landing, metadata,
                 request.apply() ? Optional.of(src::rowKey) : Optional.empty(), start)) {
            connection.setAutoCommit(false);
            run.info("streaming slot %s from %s%s%s".formatted(request.slot(), start.asString(),
                end.map(e -> " to " + e.asString()).orElse(" until stopped"), streaming ? ", large transactions while in progress" : ""));
            LogSequenceNumber checkpoint = start;
            long batchStarted = System.nanoTime();
            long lastSentCheck = 0;
            boolean sentPastEnd = false;
            while (true) {
                ByteBuffer message = stream.readPending();
                if (message != null) {
                    boolean transactionEnded = capture.accept(message);
                    if (transactionEnded && (stopping || capture.batchChanges() >= BATCH_CHANGES
                            || System.nanoTime() - batchStarted >= BATCH_NANOS)) {
                        checkpoint = commit(connection, stream, capture, runs);
                        batchStarted = System.nanoTime();
                        if (stopping) {
                            break;
                        }
                    }
                    continue;
                }
                if (capture.inTransaction()) {
                    Thread.sleep(IDLE_SLEEP_MS);
                    continue;
                }
                if (capture.hasUncommitted()) {
                    checkpoint = commit(connection, stream, capture, runs);
                    batchStarted = System.nanoTime();
                    continue;
                }
                confirmQuietPosition(stream, checkpoint);
                if (stopping) {
                    break;
                }
                if (end.isPresent()) {
                    if (stream.getLastReceiveLSN().compareTo(end.get()) >= 0 || sentPastEnd) {
                        break;
                    }
                    if (System.nanoTime() - lastSentCheck > SENT_CHECK_NANOS) {
                        lastSentCheck = System.nanoTime();
                        // Everything the walsender sent before it passed the end is read by the next empty poll.
                        sentPastEnd = src.sentLsn(walsender).map(LogSequenceNumber::valueOf).filter(s -> s.compareTo(end.get()) >= 0).isPresent();
                        continue;
                    }
                }
                Thread.sleep(IDLE_SLEEP_MS);
            }
            runs.succeedInParts(connection, run.runId(), Map.of("checkpoint", checkpoint.asString()));
            connection.commit();
            connection.close();
            return new Result(capture.transactions(), capture.skippedTransactions(), changes, bytes, rowsPerTable, capture.schemaChanges(),
                checkpoint.asString(), (System.nanoTime() - started) / 1_000_000);
        } catch (SQLException | RuntimeException e) {
            warehouse.discard(connection);
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            warehouse.discard(connection);
            throw new SQLException("interrupted while streaming", "57014", e);
        } finally {
            done.countDown();
            if (stopper != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(stopper);
                } catch (IllegalStateException e) {
                    // The JVM is already shutting down: the hook is running and waits for this stream.
                }
            }
        }
    }

    /**
     * Commits the batch with its checkpoint, then tells the slot: a crash in between replays the batch's
     * transactions, which the next run recognises by LSN and skips.
     */
    private LogSequenceNumber commit(Connection connection, PGReplicationStream stream, ChangeCapture capture, RunLog runs) throws SQLException {
        LogSequenceNumber lsn = capture.finishBatch();
        new SlotCheckpoint(bronzeSchema).save(connection, request.stream(), request.slot(), request.publication(), lsn.asString(), run.runId());
        runs.addProgress(connection, run.runId(), capture.batchChanges(), capture.batchBytes());
        connection.commit();
        changes += capture.batchChanges();
        bytes += capture.batchBytes();
        capture.batchRowsPerTable().forEach((table, rows) -> rowsPerTable.merge(table, rows, Long::sum));
        run.info("committed %,d changes up to %s".formatted(capture.batchChanges(), lsn.asString()));
        capture.batchCommitted();
        if (haltAfterCommit) {
            Runtime.getRuntime().halt(137);
        }
        stream.setFlushedLSN(lsn);
        stream.setAppliedLSN(lsn);
        stream.forceUpdateStatus();
        return lsn;
    }

    /**
     * With nothing pending, the slot may forget the WAL up to what the server last said it sent: it holds
     * no change of the published tables that is not in bronze (a slot never confirmed keeps WAL forever).
     */
    private void confirmQuietPosition(PGReplicationStream stream, LogSequenceNumber checkpoint) throws SQLException {
        LogSequenceNumber received = stream.getLastReceiveLSN();
        if (received.compareTo(checkpoint) > 0 && received.compareTo(stream.getLastFlushedLSN()) > 0) {
            stream.setFlushedLSN(received);
            stream.setAppliedLSN(received);
            stream.forceUpdateStatus();
        }
    }

    /** On SIGTERM (or Ctrl-C), stop at the next quiet moment between transactions, after committing. */
    private Thread stopOnSignal(CountDownLatch done) {
        Thread hook = new Thread(() -> {
            stopping = true;
            try {
                if (!done.await(30, TimeUnit.SECONDS)) {
                    run.warn("the stream did not stop within 30 s; uncommitted changes will be read again by the next run");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "cdc-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        return hook;
    }
}
