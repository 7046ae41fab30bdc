package datakit.run;

import datakit.cdc.SlotCheckpoint;
import datakit.db.Database;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.postgresql.replication.LogSequenceNumber;

/**
 * Where a change stream stands, as the warehouse records it ({@link SlotCheckpoint}), for the positions
 * a stream reaches without a change to commit: the server has read past WAL none of which was the
 * stream's. The caller commits each before it tells the slot, so the slot never hears of a position
 * the warehouse does not hold.
 */
final class SlotPosition {
    private final SlotCheckpoint checkpoints;
    private final CdcRequest request;
    private final UUID runId;

    SlotPosition(String bronzeSchema, CdcRequest request, UUID runId) {
        this.checkpoints = new SlotCheckpoint(bronzeSchema);
        this.request = request;
        this.runId = runId;
    }

    /** The checkpoint the warehouse holds, read in the caller's transaction. */
    Optional<LogSequenceNumber> stored(Connection connection) {
        return checkpoints.read(connection, request.stream()).flatMap(SlotCheckpoint.Stored::lsn).map(LogSequenceNumber::valueOf);
    }

    /** Saves the checkpoint {@code position}, in the caller's transaction: a batch's, or a position past every change taken. */
    void save(Connection connection, LogSequenceNumber position) {
        checkpoints.save(connection, request.stream(), request.slot(), request.publication(), position.asString(), null, runId);
    }

    /**
     * Saves where the run ended (when past the stored checkpoint) with the run's success, in the caller's
     * transaction, for it to commit; returns the checkpoint.
     */
    LogSequenceNumber finish(Connection connection, LogSequenceNumber reached, RunLog runs) {
        LogSequenceNumber stored = stored(connection).orElse(reached);
        LogSequenceNumber checkpoint = reached.compareTo(stored) > 0 ? reached : stored;
        if (checkpoint.compareTo(stored) > 0) {
            save(connection, checkpoint);
        }
        runs.succeedInParts(connection, runId, Map.of("checkpoint", checkpoint.asString()));
        return checkpoint;
    }

    /**
     * After a lost connection: rolls back the batch in progress and reads the checkpoint the warehouse
     * holds, where the stream starts again. A warehouse that is gone as well fails the run with {@code failure}.
     */
    Optional<LogSequenceNumber> resumePoint(Database warehouse, Connection connection, Exception failure) throws SQLException {
        try {
            connection.rollback();
            warehouse.begin(connection);
            Optional<LogSequenceNumber> stored = stored(connection);
            connection.rollback(); // no snapshot held while waiting to reconnect
            return stored;
        } catch (SQLException | RuntimeException e) {
            failure.addSuppressed(e);
            if (failure instanceof SQLException sql) {
                throw sql;
            }
            throw (RuntimeException) failure;
        }
    }
}
