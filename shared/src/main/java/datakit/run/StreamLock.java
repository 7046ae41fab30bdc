package datakit.run;

import datakit.cli.DatakitException;
import datakit.cli.ExitCode;
import datakit.sql.Sql;
import java.sql.Connection;
import java.util.UUID;

/**
 * One run per stream at a time: an advisory lock in the warehouse, keyed by the stream's name. A load
 * that commits once takes it for its transaction, so it ends with it; a run that commits in chunks takes
 * it for its session and gives it back at the end (or when its connection closes, which the server
 * notices within its TCP keepalive, about two minutes).
 */
final class StreamLock {
    private StreamLock() {
    }

    /** Takes the lock for the current transaction, or returns false at once. */
    static boolean tryForTransaction(Connection transaction, String stream) {
        return call(transaction, "pg_try_advisory_xact_lock", stream);
    }

    /** Takes the lock for the session, or returns false at once; give it back with {@link #release}. */
    static boolean tryForSession(Connection connection, String stream) {
        return call(connection, "pg_try_advisory_lock", stream);
    }

    /** The error for a stream another run holds, naming that run when extraction_runs knows it. */
    static DatakitException busy(Connection connection, String stream, RunLog runs, UUID currentRun) {
        return new DatakitException(ExitCode.NOT_READY, "Another run of %s is in progress%s. Wait for it to finish, or stop it first."
            .formatted(stream, runs.otherRunning(connection, stream, currentRun).map(r -> " (run " + r + ")").orElse("")));
    }

    static void release(Connection connection, String stream) {
        call(connection, "pg_advisory_unlock", stream);
    }

    /**
     * Takes the lock in shared mode for the session, or returns false at once: the processes of one
     * partitioned load share the stream, and keep other datakits out of it.
     */
    static boolean tryShared(Connection connection, String stream) {
        return call(connection, "pg_try_advisory_lock_shared", stream);
    }

    static void releaseShared(Connection connection, String stream) {
        call(connection, "pg_advisory_unlock_shared", stream);
    }

    /** How many other sessions hold the stream's lock (the other processes of a partitioned load). */
    static int otherHolders(Connection connection, String stream) {
        return Sql.using(connection).resultQuery("""
                SELECT count(*) FROM pg_catalog.pg_locks
                WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                  AND objsubid = 1 AND granted AND pid <> pg_catalog.pg_backend_pid()
                  AND ((classid::bigint << 32) | objid::bigint) = pg_catalog.hashtextextended(?, 0)""", key(stream))
            .fetchOne(0, Integer.class);
    }

    /** Waits for an exclusive lock on a part of the stream's bookkeeping ({@code "load"}), held until the transaction ends. */
    static void waitForTransaction(Connection transaction, String stream, String what) {
        Sql.using(transaction).resultQuery("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(?, 0))",
            key(stream) + " " + what).fetch();
    }

    /**
     * Claims one of the stream's parts for the current transaction, waiting while another process holds
     * it (a second process of the same shard, or a killed run whose session the server has not ended).
     */
    static void claimPartForTransaction(Connection transaction, String stream, String part) {
        waitForTransaction(transaction, stream, "part " + part);
    }

    private static boolean call(Connection connection, String function, String stream) {
        return Boolean.TRUE.equals(Sql.using(connection)
            .resultQuery("SELECT pg_catalog." + function + "(pg_catalog.hashtextextended(?, 0))", key(stream))
            .fetchOne(0, Boolean.class));
    }

    private static String key(String stream) {
        return "datakit stream " + stream;
    }
}
