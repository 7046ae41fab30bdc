package datakit.run;

import datakit.cli.DatakitException;
import datakit.cli.ExitCode;
import datakit.sql.Sql;
import java.sql.Connection;

/**
 * One run per stream at a time: a session-level advisory lock in the warehouse, keyed by the stream
 * name. It is released when the run ends or, if the process dies, when its connection closes.
 */
public final class StreamLock implements AutoCloseable {
    private final Connection connection;
    private final String key;

    private StreamLock(Connection connection, String key) {
        this.connection = connection;
        this.key = key;
    }

    /** Takes the lock or fails at once, naming the run that holds it. */
    public static StreamLock acquire(Connection connection, String stream, String bronzeSchema) {
        String key = "datakit stream " + stream;
        Boolean locked = Sql.using(connection)
            .resultQuery("SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtextextended(?, 0))", key).fetchOne(0, Boolean.class);
        if (!Boolean.TRUE.equals(locked)) {
            String holder = Sql.using(connection).resultQuery("SELECT run_id || ', started ' || to_char(started_at, 'YYYY-MM-DD HH24:MI:SS TZ') FROM "
                    + Sql.inline(Sql.name(bronzeSchema, "extraction_runs")) + " WHERE stream = ? AND status = 'running' ORDER BY started_at LIMIT 1",
                stream).fetchOne(0, String.class);
            throw new DatakitException(ExitCode.NOT_READY, "Another run of %s is in progress%s. Wait for it to finish, or stop it first."
                .formatted(stream, holder == null ? "" : " (run " + holder + ")"));
        }
        return new StreamLock(connection, key);
    }

    @Override
    public void close() {
        try {
            Sql.using(connection).resultQuery("SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtextextended(?, 0))", key).fetch();
        } catch (RuntimeException e) {
            // A broken connection has already released the lock with its session.
        }
    }
}
