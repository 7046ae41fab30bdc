package datakit.run;

import datakit.sql.Sql;
import java.sql.Connection;

/**
 * One load per stream at a time: a transaction-level advisory lock in the warehouse, keyed by the
 * stream's name, taken at the start of the load transaction. It ends with the transaction, so neither
 * a failure nor a pooled connection can leave it behind.
 */
final class StreamLock {
    private StreamLock() {
    }

    /** Takes the lock for the current transaction of {@code transaction}, or returns false at once. */
    static boolean tryAcquire(Connection transaction, String stream) {
        return Boolean.TRUE.equals(Sql.using(transaction)
            .resultQuery("SELECT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended(?, 0))", "datakit stream " + stream)
            .fetchOne(0, Boolean.class));
    }
}
