package datakit.run;

import datakit.bronze.BronzeMetadata;
import datakit.cdc.CdcSource;
import datakit.cdc.ChangeCapture;
import datakit.cdc.MessageReader;
import datakit.cdc.PgOutput;
import datakit.cdc.ReplicationSession;
import datakit.cdc.SlotCheckpoint;
import datakit.cli.DatakitException;
import datakit.cli.ExitCode;
import datakit.db.Database;
import datakit.db.Retry;
import datakit.db.SqlErrors;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
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
 *
 * <p>While none of the stream's changes come, the position the server has read moves on with the
 * WAL of other tables and databases: it is recorded as the checkpoint (at most every second, and when
 * the run ends) and only then confirmed to the slot, so the slot keeps no more WAL than it must.
 *
 * <p>A lost replication connection (a terminated walsender, a restarted source) is taken up again
 * inside the run, with the retry policy's backoff: the batch in progress is rolled back, and the
 * stream starts again from the checkpoint the warehouse holds, so a transaction half-received is
 * received whole again and none is written twice.
 */
final class ChangeStream {
    private static final long BATCH_CHANGES = 200_000;
    /** A batch commits at the first transaction end after this long, so a busy stream lands within a tenth of a second. */
    private static final long BATCH_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long IDLE_POLL_MS = 5;
    /** How often a quiet stream records the position the server has read. */
    private static final long QUIET_RECORD_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** A connection that streamed this long before it was lost starts a new count of reconnections. */
    private static final long RECONNECT_COUNT_RESET_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final RunContext run;
    private final Database source;
    private final StreamSource sources;
    private final Database warehouse;
    private final CdcRequest request;
    private final String bronzeSchema;
    private final Function<PgOutput.Relation, Map<String, String>> landing;
    private final Function<TableRef, BronzeMetadata> metadata;
    private final boolean haltAfterCommit;
    private final SlotPosition position;
    private final Map<String, Long> rowsPerTable = new LinkedHashMap<>();
    private final List<String> schemaChanges = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();
    private final CountDownLatch done = new CountDownLatch(1);
    private RunLog runs;
    private StreamLock lock;
    /** Whether the warehouse transaction in progress has begun, with the warehouse's settings; each commit and rollback ends it. */
    private boolean begun;
    private volatile MessageReader reader;
    private volatile boolean stopRequested;
    private long changes;
    private long bytes;
    private long transactions;
    private long replaysSkipped;
    /** The counts of the current connection's capture as of its last commit: a batch rolled back is received again. */
    private long committedTransactions;
    private long committedReplays;
    private List<String> committedSchemaChanges = List.of();
    private List<String> committedWarnings = List.of();

    /** What the stream did, and the slot as the source showed it at the end. */
    record Result(long transactions, long replaysSkipped, long changes, long bytes, Map<String, Long> rowsPerTable,
                  List<String> schemaChanges, List<String> warnings, String checkpoint, long durationMs, int reconnections,
                  Optional<CdcSource.Slot> slot) {
    }

    ChangeStream(RunContext run, Database source, CdcSource src, ReplicationSession replication, Database warehouse, CdcRequest request, String bronzeSchema,
                 Function<PgOutput.Relation, Map<String, String>> landing, Function<TableRef, BronzeMetadata> metadata, boolean haltAfterCommit) {
        this.run = run;
        this.source = source;
        this.sources = new StreamSource(source, src, replication, request.slot());
        this.warehouse = warehouse;
        this.request = request;
        this.bronzeSchema = bronzeSchema;
        this.landing = landing;
        this.metadata = metadata;
        this.haltAfterCommit = haltAfterCommit;
        this.position = new SlotPosition(bronzeSchema, request, run.runId());
    }

    /**
     * @param since where the slot began (see {@link SlotCheckpoint.Stored#since()})
     * @param lock  the run's hold on the stream: each warehouse commit makes sure it still has it
     */
    Result run(LogSequenceNumber start, LogSequenceNumber since, RunLog runs, StreamLock lock) throws SQLException {
        this.runs = runs;
        this.lock = lock;
        long started = System.nanoTime();
        Optional<LogSequenceNumber> end = request.follow() ? Optional.empty() : Optional.of(LogSequenceNumber.valueOf(sources.walEnd()));
        // Protocol version 2 (PostgreSQL 14+) sends a large transaction while it runs, instead of the server
        // spilling it to its own disk and sending it after its commit.
        boolean streaming = request.streaming() && sources.serverVersion() >= 140000;
        Thread stopper = request.follow() ? stopOnSignal() : null;
        Connection connection = warehouse.connect();
        try (sources) {
            LogSequenceNumber checkpoint = stream(connection, start, since, end, streaming);
            connection.close();
            return new Result(transactions, replaysSkipped, changes, bytes, rowsPerTable, schemaChanges, warnings, checkpoint.asString(),
                (System.nanoTime() - started) / 1_000_000, sources.reconnections(), sources.slotNow(run));
        } catch (SQLException | RuntimeException e) {
            warehouse.discard(connection);
            finished();
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            warehouse.discard(connection);
            finished();
            throw new SQLException("interrupted while streaming", "57014", e);
        } finally {
            if (stopper != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(stopper);
                } catch (IllegalStateException e) {
                    // The JVM is shutting down: the hook is running and waits for this stream to end.
                }
            }
        }
    }

    /** The run is over, its summary printed: a SIGTERM waiting for it may let the JVM end. */
    void finished() {
        done.countDown();
    }

    /**
     * Streams until the end (or a stop), taking a lost replication connection up again: each time from
     * the checkpoint the warehouse holds. Returns the last checkpoint, recorded with the run's success.
     */
    private LogSequenceNumber stream(Connection connection, LogSequenceNumber start, LogSequenceNumber since, Optional<LogSequenceNumber> end,
                                     boolean streaming) throws SQLException, InterruptedException {
        Retry retry = source.retry();
        LogSequenceNumber from = start;
        Optional<LogSequenceNumber> until = end;
        int failures = 0;
        while (true) {
            long connected = System.nanoTime();
            try {
                ReplicationSession session = sources.session();
                if (sources.reconnections() > 0 && until.isPresent()) {
                    // After a crash the server's WAL may end before the end this run began with: what was lost never committed.
                    until = Optional.of(LogSequenceNumber.valueOf(Math.min(until.get().asLong(), sources.walEnd())));
                }
                return stream(session, connection, from, since, until, streaming);
            } catch (SQLException | RuntimeException e) {
                if (!sources.isLoss(e)) {
                    throw e;
                }
                sources.lost();
                // The batch in progress is rolled back: the server sends its transactions again, from the checkpoint.
                begun = false;
                from = position.resumePoint(warehouse, connection, e).orElse(from);
                failures = System.nanoTime() - connected > RECONNECT_COUNT_RESET_NANOS ? 1 : failures + 1;
                if (!retry.retries(failures)) {
                    throw gaveUp(e, failures - 1, from);
                }
                run.warn("lost the replication connection to the source (%s); reconnecting in %d s (retry %d of %d)"
                    .formatted(SqlErrors.serverMessage(e), retry.delay(failures).toSeconds(), failures, retry.maxRetries()));
                if (!pause(retry.delay(failures))) {
                    return finish(connection, from);
                }
            }
        }
    }

    /** Streams one replication connection until the reader ends, then records where it ended; returns that checkpoint. */
    private LogSequenceNumber stream(ReplicationSession session, Connection connection, LogSequenceNumber from, LogSequenceNumber since,
                                     Optional<LogSequenceNumber> end, boolean streaming) throws SQLException, InterruptedException {
        // The session ends the stream when it closes: a connection lost by then fails nothing already committed.
        try (var current = new MessageReader(session.start(request.slot(), request.publication(), from, streaming), end)) {
            reader = current;
            if (stopRequested) {
                current.stop();
            }
            if (sources.reconnections() > 0) {
                run.warn("reconnected to the source: streaming slot %s from %s, the warehouse's checkpoint".formatted(request.slot(), from.asString()));
            }
            run.info("streaming slot %s from %s%s%s".formatted(request.slot(), from.asString(),
                end.map(e -> " to " + e.asString()).orElse(" until stopped"), streaming ? ", large transactions while in progress" : ""));
            var capture = new ChangeCapture(connection, run.runId(), bronzeSchema, landing, metadata,
                request.apply() ? Optional.of(sources) : Optional.empty(), from, since);
            try {
                LogSequenceNumber checkpoint = finish(connection, read(current, capture, connection, from));
                current.confirm(checkpoint);
                return checkpoint;
            } finally {
                transactions += committedTransactions;
                replaysSkipped += committedReplays;
                schemaChanges.addAll(committedSchemaChanges);
                warnings.addAll(committedWarnings);
                noteCommitted(null);
            }
        }
    }

    /** Takes the reader's items until its End; returns the position it ended at. */
    private LogSequenceNumber read(MessageReader current, ChangeCapture capture, Connection connection, LogSequenceNumber from)
            throws SQLException, InterruptedException {
        LogSequenceNumber checkpoint = from;
        long batchStarted = System.nanoTime();
        long recorded = System.nanoTime();
        while (true) {
            LogSequenceNumber received = current.receivedThrough();
            MessageReader.Item item = current.poll(IDLE_POLL_MS);
            if (item == null) {
                if (!capture.inTransaction() && capture.hasUncommitted()) {
                    checkpoint = commit(connection, current, capture);
                    batchStarted = System.nanoTime();
                } else if (!capture.inTransaction() && received.compareTo(checkpoint) > 0 && System.nanoTime() - recorded > QUIET_RECORD_NANOS) {
                    // Quiet: the server has read past WAL none of which is ours to keep. Everything before it is taken.
                    begin(connection);
                    position.save(connection, received);
                    commitTransaction(connection);
                    checkpoint = received;
                    current.confirm(checkpoint);
                    recorded = System.nanoTime();
                }
                if (request.follow()) {
                    sources.heartbeat(request.heartbeatSeconds());
                }
                continue;
            }
            begin(connection);
            boolean transactionEnded = switch (item) {
                case MessageReader.Message message -> capture.accept(message.bytes());
                case MessageReader.Streamed streamed -> capture.acceptStreamed(streamed.commit(), streamed.messages());
                case MessageReader.Failed failed -> throw readFailure(failed.cause());
                case MessageReader.End ended -> {
                    if (capture.hasUncommitted()) {
                        checkpoint = commit(connection, current, capture);
                    }
                    noteCommitted(capture); // transactions skipped as replays commit nothing
                    yield false;
                }
            };
            if (item instanceof MessageReader.End ended) {
                return ended.through().compareTo(checkpoint) > 0 ? ended.through() : checkpoint;
            }
            if (transactionEnded && (capture.batchChanges() >= BATCH_CHANGES || System.nanoTime() - batchStarted >= BATCH_NANOS)) {
                checkpoint = commit(connection, current, capture);
                batchStarted = System.nanoTime();
            }
        }
    }

    /**
     * Commits the batch with its checkpoint, then has the slot told: a crash in between replays the
     * batch's transactions, which the next run recognises by LSN and skips.
     */
    private LogSequenceNumber commit(Connection connection, MessageReader current, ChangeCapture capture) throws SQLException {
        begin(connection);
        LogSequenceNumber lsn = capture.finishBatch();
        position.save(connection, lsn);
        runs.addProgress(connection, run.runId(), capture.batchChanges(), capture.batchBytes());
        commitTransaction(connection);
        changes += capture.batchChanges();
        bytes += capture.batchBytes();
        capture.batchRowsPerTable().forEach((table, rows) -> rowsPerTable.merge(table, rows, Long::sum));
        run.info("committed %,d changes up to %s".formatted(capture.batchChanges(), lsn.asString()));
        capture.batchCommitted();
        noteCommitted(capture);
        if (haltAfterCommit) {
            Runtime.getRuntime().halt(137);
        }
        current.confirm(lsn);
        return lsn;
    }

    /** Commits where the run ended with its success (see {@link SlotPosition#finish}); returns the checkpoint. */
    private LogSequenceNumber finish(Connection connection, LogSequenceNumber reached) throws SQLException {
        begin(connection);
        LogSequenceNumber checkpoint = position.finish(connection, reached, runs);
        commitTransaction(connection);
        return checkpoint;
    }

    /**
     * Begins a warehouse transaction with the warehouse's settings unless one is in progress: before the first
     * message of a batch is taken (taking one may write), and before each commit.
     */
    private void begin(Connection connection) throws SQLException {
        if (!begun) {
            warehouse.begin(connection);
            begun = true;
        }
    }

    /** Commits the warehouse transaction, if the run still holds the stream. */
    private void commitTransaction(Connection connection) throws SQLException {
        lock.confirm(connection);
        connection.commit();
        begun = false;
    }

    /** Everything the capture took so far is in the warehouse (or was already): its counts go to the summary. Null resets them. */
    private void noteCommitted(ChangeCapture capture) {
        committedTransactions = capture == null ? 0 : capture.transactions();
        committedReplays = capture == null ? 0 : capture.skippedTransactions();
        committedSchemaChanges = capture == null ? List.of() : List.copyOf(capture.schemaChanges());
        committedWarnings = capture == null ? List.of() : List.copyOf(capture.warnings());
    }

    private DatakitException gaveUp(Exception last, int retries, LogSequenceNumber checkpoint) {
        return new DatakitException(ExitCode.FAILED, ("Capturing the changes of slot %s failed: the replication connection to the source "
            + "was lost and %d reconnections failed (last: %s). Bronze holds every change up to %s, and the next run resumes there; "
            + "check that the source is up and reachable.").formatted(request.slot(), retries, SqlErrors.serverMessage(last),
            checkpoint.asString()), last);
    }

    /** Waits before a reconnection; false when a SIGTERM came meanwhile. */
    private boolean pause(Duration delay) throws InterruptedException {
        long until = System.nanoTime() + delay.toNanos();
        while (!stopRequested && System.nanoTime() < until) {
            Thread.sleep(10);
        }
        return !stopRequested;
    }

    /** The reader's failure, to throw as it was: a driver error, or an unexpected one. */
    private static SQLException readFailure(Exception cause) {
        if (cause instanceof RuntimeException unexpected) {
            throw unexpected;
        }
        return cause instanceof SQLException sql ? sql : new SQLException(cause.getMessage(), "XX000", cause);
    }

    /** On SIGTERM (or Ctrl-C), stop at the next transaction boundary, after committing. */
    private Thread stopOnSignal() {
        Thread hook = new Thread(() -> {
            stopRequested = true;
            MessageReader current = reader;
            if (current != null) {
                current.stop();
            }
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
