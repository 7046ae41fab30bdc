package datakit.run;

import datakit.bronze.BronzeMetadata;
import datakit.cdc.CdcSource;
import datakit.cdc.ChangeCapture;
import datakit.cdc.MessageReader;
import datakit.cdc.PgOutput;
import datakit.cdc.ReplicationSession;
import datakit.cdc.SlotCheckpoint;
import datakit.db.Database;
import datakit.sql.TableRef;
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

/**
 * The streaming half of a change capture: reads the slot's messages, writes their changes in batches,
 * and commits each batch in one warehouse transaction with the checkpoint (the end LSN of its last
 * source transaction) before telling the slot it may forget them. A batch is committed when the stream
 * goes quiet, after a tenth of a second, or after {@link #BATCH_CHANGES} changes, always at a transaction's end.
 * A bounded run stops once it has everything the server had written when it started; a followed one
 * stops on SIGTERM, after committing what it has.
 */
final class ChangeStream {
    private static final long BATCH_CHANGES = 200_000;
    /** A batch commits at the first transaction end after this long, so a busy stream lands within a tenth of a second. */
    private static final long BATCH_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long IDLE_POLL_MS = 5;

    private final RunContext run;
    private final Database source;
    private final CdcSource src;
    private final ReplicationSession replication;
    private final Database warehouse;
    private final CdcRequest request;
    private final String bronzeSchema;
    private final Function<PgOutput.Relation, Map<String, String>> landing;
    private final Function<TableRef, BronzeMetadata> metadata;
    private final boolean haltAfterCommit;
    private final Map<String, Long> rowsPerTable = new LinkedHashMap<>();
    private final CountDownLatch done = new CountDownLatch(1);
    private long changes;
    private long bytes;

    /** What the stream did. */
    record Result(long transactions, long replaysSkipped, long changes, long bytes, Map<String, Long> rowsPerTable,
                  List<String> schemaChanges, List<String> warnings, String checkpoint, long durationMs) {
    }

    ChangeStream(RunContext run, Database source, CdcSource src, ReplicationSession replication, Database warehouse, CdcRequest request, String bronzeSchema,
                 Function<PgOutput.Relation, Map<String, String>> landing, Function<TableRef, BronzeMetadata> metadata, boolean haltAfterCommit) {
        this.run = run;
        this.source = source;
        this.src = src;
        this.replication = replication;
        this.warehouse = warehouse;
        this.request = request;
        this.bronzeSchema = bronzeSchema;
        this.landing = landing;
        this.metadata = metadata;
        this.haltAfterCommit = haltAfterCommit;
    }

    /** @param since where the slot began (see {@link SlotCheckpoint.Stored#since()}) */
    Result run(LogSequenceNumber start, LogSequenceNumber since, RunLog runs) throws SQLException {
        long started = System.nanoTime();
        Optional<LogSequenceNumber> end = request.follow() ? Optional.empty() : Optional.of(LogSequenceNumber.valueOf(src.currentLsn()));
        int walsender = replication.backendPid();
        // Protocol version 2 (PostgreSQL 14+) sends a large transaction while it runs, instead of the server
        // spilling it to its own disk and sending it after its commit.
        boolean streaming = request.streaming() && src.serverVersion() >= 140000;
        Connection connection = warehouse.connect();
        // The session ends the stream when it closes: a connection lost by then fails nothing already committed.
        try (var reader = new MessageReader(replication.start(request.slot(), request.publication(), start, streaming), end,
                () -> sentPast(walsender, end.orElseThrow()))) {
            Thread stopper = request.follow() ? stopOnSignal(reader) : null;
            connection.setAutoCommit(false);
            run.info("streaming slot %s from %s%s%s".formatted(request.slot(), start.asString(),
                end.map(e -> " to " + e.asString()).orElse(" until stopped"), streaming ? ", large transactions while in progress" : ""));
            var capture = new ChangeCapture(connection, run.runId(), bronzeSchema, landing, metadata,
                request.apply() ? Optional.of(src) : Optional.empty(), start, since);
            LogSequenceNumber checkpoint = start;
            long batchStarted = System.nanoTime();
            while (true) {
                LogSequenceNumber received = reader.receivedThrough();
                MessageReader.Item item = reader.poll(IDLE_POLL_MS);
                if (item == null) {
                    if (!capture.inTransaction() && capture.hasUncommitted()) {
                        checkpoint = commit(connection, reader, capture, runs);
                        batchStarted = System.nanoTime();
                    } else if (!capture.inTransaction()) {
                        // Quiet: the slot may forget the WAL up to what the server last sent, none of it ours to keep.
                        reader.confirm(received);
                    }
                    continue;
                }
                boolean transactionEnded = switch (item) {
                    case MessageReader.Message message -> capture.accept(message.bytes());
                    case MessageReader.Streamed streamed -> capture.acceptStreamed(streamed.commit(), streamed.messages());
                    case MessageReader.Failed failed -> throw readFailure(failed.cause());
                    case MessageReader.End ended -> {
                        if (capture.hasUncommitted()) {
                            checkpoint = commit(connection, reader, capture, runs);
                        }
                        yield false;
                    }
                };
                if (item instanceof MessageReader.End) {
                    break;
                }
                if (transactionEnded && (capture.batchChanges() >= BATCH_CHANGES || System.nanoTime() - batchStarted >= BATCH_NANOS)) {
                    checkpoint = commit(connection, reader, capture, runs);
                    batchStarted = System.nanoTime();
                }
            }
            runs.succeedInParts(connection, run.runId(), Map.of("checkpoint", checkpoint.asString()));
            connection.commit();
            connection.close();
            if (stopper != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(stopper);
                } catch (IllegalStateException e) {
                    // The JVM is shutting down: the hook is running and waits for this stream to end.
                }
            }
            return new Result(capture.transactions(), capture.skippedTransactions(), changes, bytes, rowsPerTable, capture.schemaChanges(),
                capture.warnings(), checkpoint.asString(), (System.nanoTime() - started) / 1_000_000);
        } catch (SQLException | RuntimeException e) {
            warehouse.discard(connection);
            finished();
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            warehouse.discard(connection);
            finished();
            throw new SQLException("interrupted while streaming", "57014", e);
        }
    }

    /** The run is over, its summary printed: a SIGTERM waiting for it may let the JVM end. */
    void finished() {
        done.countDown();
    }

    /** The reader's failure, to throw as it was: a driver error, or an unexpected one. */
    private static SQLException readFailure(Exception cause) {
        if (cause instanceof RuntimeException unexpected) {
            throw unexpected;
        }
        return cause instanceof SQLException sql ? sql : new SQLException(cause.getMessage(), "XX000", cause);
    }

    /** Whether the walsender has sent everything before {@code end} (pg_stat_replication.sent_lsn). */
    private boolean sentPast(int walsender, LogSequenceNumber end) {
        try (Connection connection = source.connect()) {
            return CdcSource.sentLsn(connection, walsender).map(LogSequenceNumber::valueOf).filter(s -> s.compareTo(end) >= 0).isPresent();
        } catch (SQLException e) {
            return false;
        }
    }

    /**
     * Commits the batch with its checkpoint, then has the slot told: a crash in between replays the
     * batch's transactions, which the next run recognises by LSN and skips.
     */
    private LogSequenceNumber commit(Connection connection, MessageReader reader, ChangeCapture capture, RunLog runs) throws SQLException {
        LogSequenceNumber lsn = capture.finishBatch();
        new SlotCheckpoint(bronzeSchema).save(connection, request.stream(), request.slot(), request.publication(), lsn.asString(), null,
            run.runId());
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
        reader.confirm(lsn);
        return lsn;
    }

    /** On SIGTERM (or Ctrl-C), stop at the next transaction boundary, after committing. */
    private Thread stopOnSignal(MessageReader reader) {
        Thread hook = new Thread(() -> {
            reader.stop();
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
