package datakit.bookkeeping;

import datakit.db.Database;
import datakit.db.TransactionSettings;
import datakit.error.DatakitException;
import datakit.sql.Sql;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.UUID;
import org.jooq.Record;
import org.jooq.exception.DataAccessException;

/**
 * One run per stream at a time: an advisory lock in the warehouse, keyed by the stream's name. Always a
 * transaction-level lock, never a session-level one: a session lock outlives its run on a pooled server
 * connection (PgBouncer in transaction mode hands that connection to the next client with the lock still
 * on it). A load that commits once takes it in its own transaction ({@link #tryForTransaction}); a run
 * that commits in parts holds it for its whole length in a transaction of its own on a dedicated
 * connection outside the pool ({@link #exclusive}, {@link #shared}, {@link Database#connectDedicated}), open and idle
 * until the run ends: the run's work has the whole pool, and a pool of one does not wait for itself. That transaction
 * never writes, so it has no transaction id and holds back no vacuum horizon (READ COMMITTED takes a
 * snapshot per statement only). It ends with the run, and if the process dies, with its connection: the
 * server, or the pooler, which closes a server connection whose client left in the middle of a transaction.
 */
public final class StreamLock implements AutoCloseable {
    /** The stream's advisory lock in pg_locks, by the key bound to it, whoever holds it. */
    private static final String HELD = """
        SELECT %s FROM pg_catalog.pg_locks
        WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
          AND objsubid = 1 AND granted AND ((classid::bigint << 32) | objid::bigint) = pg_catalog.hashtextextended(?, 0)""";

    private final Database warehouse;
    private final Connection holder;
    /** The server process of the lock's transaction: the same one, also through a pooler, for as long as that transaction lasts. */
    private final int holderPid;
    private final String stream;

    private StreamLock(Database warehouse, Connection holder, int holderPid, String stream) {
        this.warehouse = warehouse;
        this.holder = holder;
        this.holderPid = holderPid;
        this.stream = stream;
    }

    /** Holds the stream for this run alone until {@link #close()}, or fails with exit 3 naming the run that has it. */
    public static StreamLock exclusive(Database warehouse, String stream, RunLog runs, UUID currentRun) throws SQLException {
        return hold(warehouse, stream, "pg_try_advisory_xact_lock", runs, currentRun);
    }

    /**
     * Holds the stream in shared mode until {@link #close()}: the processes of one partitioned load share
     * it, and keep other datakits out of it. Fails with exit 3 while another datakit holds it.
     */
    public static StreamLock shared(Database warehouse, String stream, RunLog runs, UUID currentRun) throws SQLException {
        return hold(warehouse, stream, "pg_try_advisory_xact_lock_shared", runs, currentRun);
    }

    private static StreamLock hold(Database warehouse, String stream, String function, RunLog runs, UUID currentRun) throws SQLException {
        Connection holder = warehouse.connectDedicated();
        try {
            warehouse.begin(holder);
            Record taken = Sql.using(holder).resultQuery("SELECT pg_catalog." + function + "(pg_catalog.hashtextextended(?, 0)), "
                + "pg_catalog.pg_backend_pid()", key(stream)).fetchOne();
            if (!taken.get(0, Boolean.class)) {
                throw busy(holder, stream, runs, currentRun);
            }
            settle(holder);
            return new StreamLock(warehouse, holder, taken.get(1, Integer.class), stream);
        } catch (DataAccessException e) {
            release(holder);
            // A lost connection stays a driver error, which the run's retries recognise.
            if (e.getCause() instanceof SQLException sql) {
                throw sql;
            }
            throw e;
        } catch (SQLException | RuntimeException e) {
            release(holder);
            throw e;
        }
    }

    /** How many other sessions hold the stream's lock (the other processes of a partitioned load). */
    public int otherHolders() {
        int others = Sql.using(holder).resultQuery(HELD.formatted("count(*)") + " AND pid <> ?", key(stream), holderPid)
            .fetchOne(0, Integer.class);
        settle(holder);
        return others;
    }

    /**
     * Fails with exit 3 unless this run still holds the stream: call in each of the run's warehouse transactions,
     * last before its commit, so that nothing commits once the lock is gone. The lock's transaction ends with its
     * server process (an admin's pg_terminate_backend, a pooler's idle_transaction_timeout, transaction_timeout, a
     * dropped connection), and another run of the stream may then start.
     */
    public void confirm(Connection transaction) {
        boolean held = Sql.using(transaction).resultQuery("SELECT EXISTS (" + HELD.formatted("1") + " AND pid = ?)", key(stream), holderPid)
            .fetchOne(0, Boolean.class);
        if (!held) {
            throw DatakitException.notReady(("This run lost its lock on %s: the warehouse connection that held it (server "
                + "process %d) ended, and another run of the stream may have started, so this one stopped before its next commit; what "
                + "it committed before is kept. An admin's pg_terminate_backend, a dropped connection, or a pooler's "
                + "idle_transaction_timeout or the server's transaction_timeout shorter than a run end it: raise such a timeout for "
                + "the warehouse user, then run again.").formatted(stream, holderPid));
        }
    }

    /**
     * Runs {@code work} in a warehouse transaction ({@link Database#inTransaction}) that commits only while this run still
     * holds the stream: {@link #confirm} comes last, after the work. For each of a run's writes that is not part of a
     * transaction the run manages itself.
     */
    public <T> T inTransaction(Database.TransactionWork<T> work) throws SQLException {
        return warehouse.inTransaction(transaction -> {
            T result = work.run(transaction);
            confirm(transaction);
            return result;
        });
    }

    /**
     * Ends the last query's portal, which keeps its snapshot (and so the backend's xmin, a vacuum horizon)
     * until the next statement, with statements that take none; they also keep a role's
     * idle_in_transaction_session_timeout (and transaction_timeout, from PostgreSQL 17) from ending the
     * transaction, which stays open and idle for the run's length.
     */
    private static void settle(Connection holder) {
        TransactionSettings.mayIdle(holder);
    }

    /** Ends the lock's transaction, which gives the lock back. */
    @Override
    public void close() {
        release(holder);
    }

    /** Rolls back and closes the lock's connection, which is no pool's: the lock ends with it, even when it cannot roll back. */
    private static void release(Connection holder) {
        try (holder) {
            holder.rollback();
        } catch (SQLException | RuntimeException e) {
            // A connection already lost: its server process, and the lock with it, ended or ends with it.
        }
    }

    /** Takes the lock for the current transaction, or returns false at once. */
    public static boolean tryForTransaction(Connection transaction, String stream) {
        return Boolean.TRUE.equals(Sql.using(transaction)
            .resultQuery("SELECT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended(?, 0))", key(stream))
            .fetchOne(0, Boolean.class));
    }

    /** The error for a stream another run holds, naming that run when extraction_runs knows it. */
    public static DatakitException busy(Connection connection, String stream, RunLog runs, UUID currentRun) {
        return DatakitException.notReady("Another run of %s is in progress%s. Wait for it to finish, or stop it first."
            .formatted(stream, runs.otherRunning(connection, stream, currentRun).map(r -> " (run " + r + ")").orElse("")));
    }

    /** Waits for an exclusive lock on a part of the stream's bookkeeping ({@code "load"}), held until the transaction ends. */
    public static void waitForTransaction(Connection transaction, String stream, String what) {
        Sql.using(transaction).resultQuery("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(?, 0))",
            key(stream) + " " + what).fetch();
    }

    /**
     * Claims one of the stream's parts for the current transaction, waiting while another process holds
     * it (a second process of the same shard, or a killed run whose session the server has not ended).
     */
    public static void claimPartForTransaction(Connection transaction, String stream, String part) {
        waitForTransaction(transaction, stream, "part " + part);
    }

    private static String key(String stream) {
        return "datakit stream " + stream;
    }
}
