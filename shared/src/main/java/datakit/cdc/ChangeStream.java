package datakit.cdc;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.StreamLock;
import datakit.bronze.BronzeMetadata;
import datakit.bronze.SchemaPolicy;
import datakit.cdc.pgoutput.PgOutput;
import datakit.db.Database;
import datakit.db.Retry;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.report.RunContext;
import datakit.sql.TableRef;
import datakit.wal.Lsn;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Stream;

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
 * inside the run ({@link Reconnects}): the batch in progress is rolled back, and the stream starts again
 * from the checkpoint the warehouse holds, so a transaction half-received is received whole again and
 * none is written twice. A failure of the warehouse ends the run.
 *
 * <p>With {@code --apply}, values DDL changed without writing rows (which no change carries) are given to the bronze
 * tables once the changes made before that DDL are applied ({@link ValueRefresh}): at the end of a bounded run, and
 * at a --follow run's commits.
 */
final class ChangeStream {
    private static final long BATCH_CHANGES = 200_000;
    /** A batch commits at the first transaction end after this long, so a busy stream lands within a tenth of a second. */
    private static final long BATCH_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /** While the stream is quiet the writer looks for work after 5 ms, then less often, up to every 100 ms; a change wakes it at once. */
    private static final long IDLE_POLL_FIRST_MS = 5;
    private static final long IDLE_POLL_MAX_MS = 100;
    /** How often a quiet stream records the position the server has read. */
    private static final long QUIET_RECORD_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final RunContext run;
    private final Database source;
    private final StreamSource sources;
    private final Database warehouse;
    private final CdcRequest request;
    private final String bronzeSchema;
    private final Function<PgOutput.Relation, Map<String, String>> landing;
    private final Function<TableRef, BronzeMetadata> metadata;
    private final boolean haltAfterCommit;
    private final SchemaPolicy onSchemaChange;
    private SlotPosition position;
    private final Reconnects reconnects;
    private final Map<String, Long> rowsPerTable = new LinkedHashMap<>();
    private final List<String> warnings = new ArrayList<>();
    private final StopSignal stop;
    /** Takes the snapshot of a table new to the stream; the source's connection for the set-up's questions. */
    private final TableSnapshot snapshots;
    private final CdcSource src;
    private final List<TableSnapshot.Taken> newTables = new ArrayList<>();
    /** How often a followed stream looks at its publication's tables, and when it last did. */
    private static final long PUBLICATION_LOOK_NANOS = TimeUnit.SECONDS.toNanos(5);
    private long publicationLooked = System.nanoTime() - PUBLICATION_LOOK_NANOS;
    /** Copies of tables new to the stream going on beside it (--follow). */
    private final List<Copy> copies = new ArrayList<>();
    private RunLog runs;
    private StreamEnd end;
    /** With --apply: the values DDL changed without writing rows, refreshed once the changes before it are applied. */
    private Optional<ValueRefresh> refresh = Optional.empty();
    /** The last checkpoint committed: bronze holds every change before it. */
    private Lsn committed;
    private long changes;
    private long bytes;
    /** What earlier connections' captures took, and what the current one's had taken at its last commit. */
    private CaptureCounts taken = CaptureCounts.NOTHING;
    private CaptureCounts current = CaptureCounts.NOTHING;

    /** What the stream did, and the slot as the source showed it at the end. */
    record Result(long transactions, long replaysSkipped, long changes, long bytes, Map<String, Long> rowsPerTable,
                  List<String> schemaChanges, List<Recorded> recorded, List<String> warnings, Lsn checkpoint,
                  long durationMs, int reconnections, Optional<CdcSource.Slot> slot, Map<String, Object> refreshed) {
    }

    ChangeStream(RunContext run, Database source, CdcSource src, ReplicationSession replication, Database warehouse, CdcRequest request, String bronzeSchema,
                 Function<PgOutput.Relation, Map<String, String>> landing, Function<TableRef, BronzeMetadata> metadata,
                 SchemaPolicy onSchemaChange, boolean haltAfterCommit, TableSnapshot snapshots) {
        this.run = run;
        this.src = src;
        this.snapshots = snapshots;
        this.source = source;
        this.sources = new StreamSource(source, src, replication, request.slot());
        this.warehouse = warehouse;
        this.request = request;
        this.bronzeSchema = bronzeSchema;
        this.landing = landing;
        this.metadata = metadata;
        this.haltAfterCommit = haltAfterCommit;
        this.onSchemaChange = onSchemaChange;
        this.reconnects = new Reconnects(run, source.retry(), request.slot(), System::nanoTime);
        this.stop = new StopSignal(run);
    }

    /**
     * @param since where the slot began (see {@link SlotCheckpoint.Stored#since()})
     * @param lock  the run's hold on the stream: each warehouse commit makes sure it still has it
     * @param leaves the partitions of the stream's tables as the stream begins, kept with the run's success
     */
    Result run(Lsn start, Lsn since, RunLog runs, StreamLock lock, PartitionLeaves leaves) throws SQLException {
        this.runs = runs;
        this.position = new SlotPosition(bronzeSchema, request, run.runId(), warehouse, lock, leaves);
        this.committed = start;
        long started = System.nanoTime();
        if (request.apply()) {
            // Before the run fixes where it ends: the DDL the hashes reflect is then older than every change after the end.
            refresh = Optional.of(ValueRefresh.start(run, source, sources, warehouse, bronzeSchema, request.stream(), onSchemaChange));
        }
        end = StreamEnd.of(request, sources);
        // Protocol version 2 (PostgreSQL 14+) sends a large transaction while it runs, instead of the server
        // spilling it to its own disk and sending it after its commit.
        boolean streaming = request.streaming() && sources.serverVersion() >= 140000;
        if (request.follow()) {
            stop.listen();
        }
        Connection connection = warehouse.connect();
        try (sources) {
            connection.setAutoCommit(false);
            Lsn checkpoint = streamWithReconnects(connection, start, since, streaming);
            connection.close();
            var refreshed = new LinkedHashMap<String, Object>();
            refresh.ifPresent(values -> values.addTo(refreshed));
            return new Result(taken.transactions(), taken.replays(), changes, bytes, rowsPerTable, taken.schemaChanges(), recorded(taken),
                Stream.of(taken.warnings(), refresh.map(ValueRefresh::warnings).orElse(List.of()), warnings).flatMap(List::stream).toList(),
                checkpoint, (System.nanoTime() - started) / 1_000_000, sources.reconnections(), sources.slotNow(run), refreshed);
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
            abandonCopies();
            stop.ignore();
        }
    }

    /** The run is over, its summary printed: a SIGTERM waiting for it may let the JVM end. */
    void finished() {
        stop.finished();
    }

    /**
     * Streams until the end (or a stop), taking a lost replication connection up again: each time from
     * the checkpoint the warehouse holds. Returns the last checkpoint, recorded with the run's success.
     */
    private Lsn streamWithReconnects(Connection connection, Lsn start, Lsn since, boolean streaming)
            throws SQLException, InterruptedException {
        Lsn from = start;
        while (true) {
            try {
                return streamOnce(connection, from, since, streaming);
            } catch (StreamSource.Lost lost) {
                sources.lost();
                from = resumePoint(connection, lost).orElse(from);
                if (!Reconnects.pause(reconnects.lost(lost, from), stop::requested)) {
                    return position.finish(connection, from, runs, runDetails(taken));
                }
            } catch (SQLException | RuntimeException e) {
                // The source's losses are Lost: a failure that may pass here is the warehouse's.
                if (!(e instanceof DatakitException) && Retry.isTransient(e)) {
                    throw warehouseFailed(e);
                }
                throw e;
            }
        }
    }

    /**
     * The schema changes the run recorded and the values it refreshed, as its row in extraction_runs (and the NOTIFY of its
     * end) lists them.
     */
    private Map<String, Object> runDetails(CaptureCounts counts) {
        var details = new LinkedHashMap<String, Object>();
        Recorded.notes(recorded(counts), warning -> { }).addTo(details);
        refresh.ifPresent(values -> values.addTo(details));
        return details;
    }

    /** The schema changes the captures of {@code counts} and the refreshes recorded. */
    private List<Recorded> recorded(CaptureCounts counts) {
        return Stream.concat(counts.recorded().stream(), refresh.map(ValueRefresh::recorded).orElse(List.of()).stream()).toList();
    }

    /** After a lost connection, the checkpoint the warehouse holds (the batch in progress rolled back), where the stream starts again. */
    private Optional<Lsn> resumePoint(Connection connection, StreamSource.Lost lost) throws SQLException {
        try {
            return position.resumePoint(connection);
        } catch (SQLException | RuntimeException e) {
            e.addSuppressed(lost);
            if (Retry.isTransient(e)) {
                throw warehouseFailed(e);
            }
            throw e;
        }
    }

    private DatakitException warehouseFailed(Exception e) {
        return DatakitException.failed(("Capturing the changes of slot %s failed in the warehouse: %s. Bronze holds every change "
            + "up to %s (or later, if the last commit's answer was lost), and the next run resumes from its checkpoint.")
            .formatted(request.slot(), SqlErrors.serverMessage(e), committed), e);
    }

    /** Streams one replication connection until the reader ends, then records where it ended; returns that checkpoint. */
    private Lsn streamOnce(Connection connection, Lsn from, Lsn since, boolean streaming)
            throws SQLException, InterruptedException {
        var stream = sources.start(request.publication(), from, streaming);
        reconnects.streaming();
        if (sources.reconnections() > 0) {
            end.afterReconnection(sources);
            run.warn("reconnected to the source: streaming slot %s from %s, the warehouse's checkpoint".formatted(request.slot(), from));
        }
        run.info("streaming slot %s from %s%s%s".formatted(request.slot(), from,
            end.position().map(e -> " to " + e).orElse(" until stopped"), streaming ? ", large transactions while in progress" : ""));
        // The reader ends the stream when it closes, after the last confirmation: a connection lost by then fails nothing
        // already committed, and the run warns that the slot was not told.
        var messages = new MessageReader(stream, end.position());
        Lsn checkpoint;
        try (messages) {
            stop.reading(messages);
            var capture = new ChangeCapture(connection, run.runId(), bronzeSchema, request.stream(), landing, metadata,
                request.apply() ? Optional.of(sources) : Optional.empty(), from, since, onSchemaChange, !request.snapshotNever());
            Lsn reached = read(messages, capture, connection, from);
            if (!request.follow() && refresh.isPresent() && refresh.get().hasWork()) {
                // Every change before the end is applied: the values are refreshed in the transaction that ends the run.
                position.begin(connection);
                refresh.get().refresh(connection);
            }
            checkpoint = position.finish(connection, reached, runs, runDetails(taken.plus(current)));
            committed = checkpoint;
            messages.confirm(checkpoint);
        } finally {
            taken = taken.plus(current);
            current = CaptureCounts.NOTHING;
        }
        messages.unconfirmed().ifPresent(why -> warnings.add(("slot %s could not be told that bronze holds every change up to %s (%s): it "
            + "keeps WAL from an earlier position until the next run tells it; nothing is lost").formatted(request.slot(), checkpoint, why)));
        return checkpoint;
    }

    /** Takes the reader's items until its End; returns the position it ended at. */
    private Lsn read(MessageReader messages, ChangeCapture capture, Connection connection, Lsn from)
            throws SQLException, InterruptedException {
        Lsn checkpoint = from;
        long batchStarted = System.nanoTime();
        long recorded = System.nanoTime();
        long pollMs = IDLE_POLL_FIRST_MS;
        while (true) {
            Lsn received = messages.receivedThrough();
            MessageReader.Item item = messages.poll(pollMs);
            if (item == null) {
                pollMs = Math.min(2 * pollMs, IDLE_POLL_MAX_MS);
                if (!capture.inTransaction() && capture.hasUncommitted()) {
                    checkpoint = commit(connection, messages, capture);
                    batchStarted = System.nanoTime();
                    afterCommit(connection, capture, checkpoint);
                } else if (!capture.inTransaction() && received.isAfter(checkpoint) && System.nanoTime() - recorded > QUIET_RECORD_NANOS) {
                    // Quiet: the server has read past WAL none of which is ours to keep. Everything before it is taken.
                    checkpoint = position.record(connection, received);
                    committed = checkpoint;
                    messages.confirm(checkpoint);
                    recorded = System.nanoTime();
                    afterCommit(connection, capture, checkpoint);
                } else if (request.follow() && !capture.inTransaction()) {
                    // A source that writes nothing still gets its new tables loaded, and a copy that is in landed.
                    lookForNewTables(connection, capture, checkpoint);
                    snapshotNewTables(connection, capture, checkpoint);
                }
                end.whileQuiet(sources, messages, run);
                if (request.follow()) {
                    sources.heartbeat(request.heartbeatSeconds());
                }
                continue;
            }
            pollMs = IDLE_POLL_FIRST_MS;
            // Taking a message may write (a change row, a new column): in a transaction with the warehouse's settings.
            position.begin(connection);
            boolean transactionEnded;
            switch (item) {
                case MessageReader.Message message -> transactionEnded = capture.accept(message.bytes());
                case MessageReader.Streamed streamed -> transactionEnded = capture.acceptStreamed(streamed.commit(), streamed.messages());
                case MessageReader.Failed failed -> throw sources.failed(failed.cause());
                case MessageReader.End ended -> {
                    if (capture.hasUncommitted()) {
                        checkpoint = commit(connection, messages, capture);
                    }
                    capture.awaitingSnapshots().values().forEach(table -> warnings.add(("%s joined the stream during this run: the next run "
                        + "loads it from a snapshot, which holds its changes until then").formatted(table)));
                    current = CaptureCounts.of(capture); // transactions skipped as replays commit nothing
                    return Lsn.max(ended.through(), checkpoint);
                }
            }
            if (transactionEnded && (capture.batchChanges() >= BATCH_CHANGES || System.nanoTime() - batchStarted >= BATCH_NANOS)) {
                checkpoint = commit(connection, messages, capture);
                batchStarted = System.nanoTime();
                afterCommit(connection, capture, checkpoint);
            }
        }
    }

    /** After a commit of {@code checkpoint}: what waits for every change before it to be in bronze. */
    private void afterCommit(Connection connection, ChangeCapture capture, Lsn checkpoint) throws SQLException {
        lookForNewTables(connection, capture, checkpoint);
        snapshotNewTables(connection, capture, checkpoint);
        refreshWhileFollowing(connection, checkpoint);
    }

    /**
     * --follow, every few seconds: the tables of the publication the stream has not looked at (added since it began, and
     * quiet so far) are checked, so one new to the stream waits for its snapshot even before its first change.
     */
    private void lookForNewTables(Connection connection, ChangeCapture capture, Lsn checkpoint) throws SQLException {
        if (!request.follow() || request.snapshotNever() || System.nanoTime() - publicationLooked < PUBLICATION_LOOK_NANOS) {
            return;
        }
        publicationLooked = System.nanoTime();
        Map<TableRef, Long> published = src.oids(src.publications().tables(request.publication()));
        if (published.values().stream().anyMatch(capture::unfamiliar)) {
            position.begin(connection);
            published.forEach((table, oid) -> capture.awaitIfNew(oid, table));
            position.record(connection, checkpoint);
        }
    }

    /**
     * --follow: each table new to the stream whose changes came (added to the publication, by hand or as a table a publication
     * FOR ALL TABLES gained) is loaded from a snapshot that meets the stream exactly ({@link TableSnapshot}). Its cut is made
     * and committed here, with its change table, so its changes land from the cut on; its copy goes on beside the stream on
     * connections of its own, and lands at the first commit after it is in. A bounded run leaves it to the next run's start,
     * which loads a table new to the stream before it streams (its changes until then are in that snapshot).
     */
    private void snapshotNewTables(Connection connection, ChangeCapture capture, Lsn checkpoint) throws SQLException {
        for (Copy copy : List.copyOf(copies)) {
            if (copy.done().isDone()) {
                land(connection, capture, copy, checkpoint);
            }
        }
        // One copy at a time: making a cut waits for the transactions in progress, and a copy's own is one when source and
        // warehouse share a server. The tables after it wait, their changes until their own cut in their own snapshot.
        if (!request.follow() || !copies.isEmpty()) {
            return;
        }
        for (long oid : capture.awaitingSnapshots().keySet()) {
            // By identity: the table may have been renamed, or dropped, since its change came.
            Optional<TableRef> named = Optional.ofNullable(src.tablesNamed(List.of(oid)).get(oid));
            if (named.isEmpty()) {
                warnings.add("%s joined the stream and was dropped before it could be loaded: nothing of it lands".formatted(
                    capture.awaitingSnapshots().get(oid)));
                capture.gone(oid);
                continue;
            }
            TableRef table = named.get();
            TableIdentities identities = TableIdentities.read(warehouse, src, bronzeSchema, request.stream(), List.of(table));
            position.begin(connection);
            snapshots.prepareLoading(connection, table, oid, identities);
            position.record(connection, checkpoint);
            capture.loading(oid);
            run.info("%s is new to the stream: loading it from a snapshot beside the stream".formatted(table));
            copies.add(Copy.start(oid, table, identities, Database.open(warehouse.settings(), Database.Access.READ_WRITE), copy -> {
                // Beside the stream, with a source connection of its own: making the cut waits for the transactions in progress.
                try (CdcSource asked = CdcSource.open(source.settings())) {
                    // By identity again: the table may have been renamed or dropped meanwhile.
                    Optional<TableRef> now = Optional.ofNullable(asked.tablesNamed(List.of(oid)).get(oid));
                    if (now.isEmpty()) {
                        return;
                    }
                    TableSnapshot.Pending pending = snapshots.cut(asked, now.get(), TableSnapshot.Reason.ADDED, Optional.empty(), identities,
                        true);
                    copy.pending.set(pending);
                    try {
                        copy.target.inTransaction(transaction -> {
                            snapshots.copy(transaction, pending);
                            return null;
                        });
                    } finally {
                        // The source's DDL on the table waits for the snapshot's transaction: it ends with the copy, not the landing.
                        pending.endSnapshot();
                    }
                }
            }));
            return;
        }
    }

    /**
     * A table's load beside the stream: its cut and its copy, on a thread of their own, on connections of their own (a
     * warehouse pool here, a source connection and pool in the work).
     */
    private static final class Copy {
        final long oid;
        final TableRef table;
        final TableIdentities identities;
        final Database target;
        /** The snapshot, once its cut is made. */
        final AtomicReference<TableSnapshot.Pending> pending = new AtomicReference<>();
        private CompletableFuture<Void> done;

        private Copy(long oid, TableRef table, TableIdentities identities, Database target) {
            this.oid = oid;
            this.table = table;
            this.identities = identities;
            this.target = target;
        }

        @FunctionalInterface
        interface Work {
            void run(Copy copy) throws SQLException;
        }

        static Copy start(long oid, TableRef table, TableIdentities identities, Database target, Work work) {
            var copy = new Copy(oid, table, identities, target);
            copy.done = CompletableFuture.runAsync(() -> {
                try {
                    work.run(copy);
                } catch (SQLException e) {
                    throw new CompletionException(e);
                }
            }, task -> {
                Thread thread = new Thread(task, "cdc-table-copy");
                thread.setDaemon(true);
                thread.start();
            });
            return copy;
        }

        CompletableFuture<Void> done() {
            return done;
        }

        /** Ends the copy's snapshot (a copy still reading in it fails) and its connections. */
        void close() {
            try {
                Optional.ofNullable(pending.get()).ifPresent(TableSnapshot.Pending::close);
            } finally {
                target.close();
            }
        }
    }

    /** A copy is in: its mark, its cut landed and (--apply) its changes since the cut applied, in one transaction. */
    private void land(Connection connection, ChangeCapture capture, Copy copy, Lsn checkpoint) throws SQLException {
        copies.remove(copy);
        try {
            copy.done().join();
        } catch (CompletionException e) {
            copy.close();
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw DatakitException.failed(("Loading %s, new to the stream, from its snapshot failed: %s. Bronze holds every other change "
                + "up to %s; the next run loads the table from a new snapshot.").formatted(copy.table, cause instanceof SQLException
                sql ? SqlErrors.serverMessage(sql) : cause.toString(), checkpoint), cause instanceof Exception exception ? exception : e);
        }
        if (copy.pending.get() == null) {
            // Dropped before its cut: what landed of it stays as its history, and nothing more comes.
            copy.close();
            capture.gone(copy.oid);
            warnings.add("%s joined the stream and was dropped before it could be loaded: its change table holds what came of it"
                .formatted(copy.table));
            return;
        }
        try {
            position.begin(connection);
            TableSnapshot.Taken loaded = snapshots.land(connection, copy.pending.get(), copy.identities);
            capture.landed(loaded.cut(), () -> src.relations(List.of(copy.table), request.publication(), Optional.empty()).getFirst());
            position.record(connection, checkpoint);
            newTables.add(loaded);
            run.info("%s is new to the stream: loaded %,d rows from a snapshot at %s; its changes land from there"
                .formatted(loaded.table(), loaded.rows(), loaded.cut().lsn()));
        } finally {
            copy.close();
        }
    }

    /**
     * The run ends: a copy not in yet is given up (its snapshot's session ended, so it fails), and the next run loads the table
     * again from a new snapshot at its start, as its cut is still marked loading.
     */
    private void abandonCopies() {
        for (Copy copy : copies) {
            copy.close();
            try {
                copy.done().get(30, TimeUnit.SECONDS);
            } catch (Exception expected) {
                // The copy failed as its session ended, or still runs on a daemon thread: the next run loads the table.
            }
            run.warn("%s, new to the stream, was not loaded before the run ended: the next run loads it from a new snapshot"
                .formatted(copy.table));
        }
        copies.clear();
    }

    /** The snapshots of tables new to the stream this run took while it streamed. */
    List<TableSnapshot.Taken> snapshots() {
        return newTables;
    }

    /**
     * --follow, after a commit of {@code checkpoint}: refreshes the values DDL changed without writing rows once the checkpoint
     * is past where their hashes were read (every change before that DDL is applied), in a transaction of its own; then reads
     * the hashes again every few seconds.
     */
    private void refreshWhileFollowing(Connection connection, Lsn checkpoint) throws SQLException {
        if (!request.follow() || refresh.isEmpty()) {
            return;
        }
        ValueRefresh values = refresh.get();
        if (values.dueAt(checkpoint)) {
            position.begin(connection);
            values.refresh(connection);
            position.record(connection, checkpoint);
        }
        values.readWhenDue();
    }

    /**
     * Commits the batch with its checkpoint, then has the slot told: a crash in between replays the
     * batch's transactions, which the next run recognises by LSN and skips.
     */
    private Lsn commit(Connection connection, MessageReader messages, ChangeCapture capture) throws SQLException {
        Lsn lsn = capture.finishBatch();
        runs.addProgress(connection, run.runId(), capture.batchChanges(), capture.batchBytes());
        position.commit(connection, lsn);
        committed = lsn;
        changes += capture.batchChanges();
        bytes += capture.batchBytes();
        capture.batchRowsPerTable().forEach((table, rows) -> rowsPerTable.merge(table, rows, Long::sum));
        run.info("committed %,d changes up to %s".formatted(capture.batchChanges(), lsn));
        capture.batchCommitted();
        current = CaptureCounts.of(capture);
        if (haltAfterCommit) {
            Runtime.getRuntime().halt(137);
        }
        messages.confirm(lsn);
        return lsn;
    }
}
