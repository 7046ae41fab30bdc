package datakit.incremental;

import datakit.bookkeeping.StreamLock;
import datakit.db.Database;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.function.Supplier;
import org.jooq.exception.DataAccessException;

/**
 * The warehouse connection an incremental attempt commits its parts on, under the stream's lock: each transaction begins
 * with the warehouse's settings and commits only while the lock is still held; one that fails rolls back, and what it
 * would have added to the run's totals is dropped.
 */
final class LockedConnection {
    private final Database warehouse;
    private final StreamLock lock;
    private final RunTotals totals;
    private Connection connection;

    LockedConnection(Database warehouse, StreamLock lock, RunTotals totals) {
        this.warehouse = warehouse;
        this.lock = lock;
        this.totals = totals;
    }

    /** Takes the connection from the pool. */
    Connection connect() throws SQLException {
        connection = warehouse.connect();
        return connection;
    }

    /**
     * Runs {@code work} in one warehouse transaction, begun with the warehouse's settings: all of it commits, or none,
     * and only while the run holds the stream's lock.
     */
    void inTransaction(Runnable work) throws SQLException {
        inTransaction(() -> {
            work.run();
            return null;
        });
    }

    <T> T inTransaction(Supplier<T> work) throws SQLException {
        try {
            warehouse.begin(connection);
            T result = work.get();
            lock.confirm(connection);
            connection.commit();
            return result;
        } catch (SQLException | RuntimeException e) {
            totals.dropPending();
            try {
                connection.rollback();
            } catch (SQLException rollback) {
                e.addSuppressed(rollback);
            }
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
    }

    /** Commits what the transaction did so far (schema changes) and goes on in a new one. */
    void commitAndContinue() {
        lock.confirm(connection);
        try {
            warehouse.commitAndContinue(connection);
        } catch (SQLException e) {
            throw new DataAccessException(e.getMessage(), e);
        }
    }

    /**
     * Gives the connection back (one in doubt is closed instead), then the stream's lock, last: nothing of this run is in
     * progress once another may start.
     */
    void close(boolean healthy) {
        giveBack(healthy);
        lock.close();
    }

    private void giveBack(boolean healthy) {
        if (connection == null) {
            return;
        }
        if (healthy) {
            try {
                connection.close();
                return;
            } catch (SQLException | RuntimeException e) {
                // Fall through: a connection that cannot close cleanly is not given back to the pool.
            }
        }
        warehouse.discard(connection);
    }
}
