package datakit.cdc;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.StreamLock;
import datakit.db.Database;
import datakit.sql.Sql;
import datakit.wal.Lsn;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Where a change stream stands, as the warehouse records it ({@link SlotCheckpoint}): with each batch,
 * at the positions a stream reaches without a change to commit (the server has read past WAL none of
 * which was the stream's), and at the run's end. Each is committed to disk before the caller tells the
 * slot, so the slot never hears of a position the warehouse could still lose, and only while the run
 * still holds the stream's lock. It also begins the stream's warehouse transactions, with the warehouse's
 * settings, at the first message the stream takes after a commit (any message, even the BEGIN of a transaction
 * skipped as a replay) or when a position is recorded: a quiet stream holds no transaction open.
 */
final class SlotPosition {
    private final SlotCheckpoint checkpoints;
    private final CdcRequest request;
    private final UUID runId;
    private final Database warehouse;
    private final StreamLock lock;
    /** The partitions of the stream's tables when the stream began, kept with the run's success. */
    private final PartitionLeaves leaves;
    /** Whether the transaction in progress has begun, with the warehouse's settings; each commit and rollback ends it. */
    private boolean begun;

    SlotPosition(String bronzeSchema, CdcRequest request, UUID runId, Database warehouse, StreamLock lock, PartitionLeaves leaves) {
        this.checkpoints = new SlotCheckpoint(bronzeSchema);
        this.request = request;
        this.runId = runId;
        this.warehouse = warehouse;
        this.lock = lock;
        this.leaves = leaves;
    }

    /** Begins a warehouse transaction with the warehouse's settings, unless one is in progress. */
    void begin(Connection connection) throws SQLException {
        if (!begun) {
            warehouse.begin(connection);
            begun = true;
        }
    }

    /** The checkpoint the warehouse holds, read in the caller's transaction. */
    Optional<Lsn> stored(Connection connection) {
        return checkpoints.read(connection, request.stream()).flatMap(SlotCheckpoint.Stored::lsn);
    }

    /** Commits {@code position}, past every change taken, as the checkpoint. */
    Lsn record(Connection connection, Lsn position) throws SQLException {
        commit(connection, position);
        return position;
    }

    /** Commits the transaction in progress (a batch of changes, or none) with its checkpoint, {@code position}. */
    void commit(Connection connection, Lsn position) throws SQLException {
        begin(connection);
        checkpoints.save(connection, request.stream(), request.slot(), request.publication(), position, null, runId);
        commitDurably(connection);
    }

    /**
     * Commits where the run ended (when past the stored checkpoint) with the run's success (and {@code details} for its
     * row) and the partitions the stream began with, in one transaction; returns the checkpoint. A run that fails keeps
     * none of them, so the next run warns of the same partitions again.
     */
    Lsn finish(Connection connection, Lsn reached, RunLog runs, Map<String, Object> details) throws SQLException {
        begin(connection);
        Lsn stored = stored(connection).orElse(reached);
        Lsn checkpoint = Lsn.max(reached, stored);
        if (checkpoint.isAfter(stored)) {
            checkpoints.save(connection, request.stream(), request.slot(), request.publication(), checkpoint, null, runId);
        }
        checkpoints.savePartitionLeaves(connection, request.stream(), leaves);
        var succeeded = new LinkedHashMap<>(details);
        succeeded.put("checkpoint", checkpoint.toString());
        runs.succeedInParts(connection, runId, succeeded);
        commitDurably(connection);
        return checkpoint;
    }

    /**
     * Commits and waits until the commit is on the warehouse's disk, and on its synchronous standbys if it has
     * any, whatever the warehouse's own synchronous_commit (often off on a warehouse, where a crash loses the last
     * commits): the slot is told of the checkpoint next, and forgets the changes before it for good. 'on' rather
     * than 'local', so a failover to a synchronous standby keeps the checkpoint too. Nothing commits once the
     * run has lost the stream's lock, as another run may have taken the stream.
     */
    private void commitDurably(Connection connection) throws SQLException {
        lock.confirm(connection);
        Sql.using(connection).resultQuery("SELECT pg_catalog.set_config('synchronous_commit', 'on', true)").fetch();
        connection.commit();
        begun = false;
    }

    /**
     * After a lost connection: rolls back the batch in progress and reads the checkpoint the warehouse
     * holds, where the stream starts again.
     */
    Optional<Lsn> resumePoint(Connection connection) throws SQLException {
        connection.rollback();
        begun = false;
        begin(connection);
        Optional<Lsn> stored = stored(connection);
        connection.rollback(); // no snapshot held while waiting to reconnect
        begun = false;
        return stored;
    }
}
