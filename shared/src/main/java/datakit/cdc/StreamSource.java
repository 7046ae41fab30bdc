package datakit.cdc;

import datakit.db.Database;
import datakit.db.Retry;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.report.RunContext;
import datakit.sql.TableRef;
import datakit.wal.Lsn;
import java.io.EOFException;
import java.net.SocketException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.postgresql.replication.PGReplicationStream;
import org.postgresql.util.PSQLException;

/**
 * The source's side of a change stream: its replication connection, and a plain connection for the
 * stream's own queries (where the WAL ends, row keys, the slot's state, the heartbeat). Both start as
 * the set-up's. A failure that a new connection may cure is thrown as {@link Lost}, so the stream tells
 * it from a failure of the warehouse; the next {@link #start} then opens both connections again, and
 * ends the walsender of the lost connection if it still holds the slot.
 */
final class StreamSource implements AutoCloseable, ApplySource {
    private final Database source;
    private final CdcSource setUpQueries;
    private final ReplicationSession setUpSession;
    private final String slot;
    private CdcSource queries;
    private ReplicationSession session;
    private int walsender = -1;
    private int reconnections;
    private long lastHeartbeat;

    /** The source's connection was lost (its server restarted, its walsender ended, the network cut): a new one may cure it. */
    static final class Lost extends RuntimeException {
        Lost(Exception cause) {
            super(cause.getMessage(), cause);
        }

        /**
         * Why, as plainly as known: the server's message when it sent one, else what the connection saw, never
         * the driver's "Database connection failed when reading from copy" alone.
         */
        String reason() {
            for (Throwable t = getCause(); t != null; t = t.getCause()) {
                if (t instanceof PSQLException p && p.getServerErrorMessage() != null) {
                    break;
                }
                if (t instanceof EOFException) {
                    return "the source closed the connection";
                }
                if (t instanceof SocketException socket && socket.getMessage() != null) {
                    return "the connection broke: " + socket.getMessage();
                }
            }
            return SqlErrors.serverMessage(getCause());
        }
    }

    StreamSource(Database source, CdcSource setUpQueries, ReplicationSession setUpSession, String slot) {
        this.source = source;
        this.setUpQueries = setUpQueries;
        this.setUpSession = setUpSession;
        this.slot = slot;
        this.queries = setUpQueries;
        this.session = setUpSession;
    }

    /**
     * Starts streaming the slot's changes for {@code publication} from {@code from}, on the set-up's replication
     * connection, or after a loss on a new one (with a new connection for queries), once sure that the slot has
     * not moved past {@code from} meanwhile. Returns once the server has answered.
     */
    PGReplicationStream start(String publication, Lsn from, boolean streaming) throws SQLException {
        try {
            if (session == null) {
                reopenQueries();
                queries.slot(slot).ifPresent(s -> SlotStart.requireNotAhead(s, from));
                session = ReplicationSession.open(source.settings());
                reconnections++;
            }
            walsender = session.backendPid();
            return session.start(slot, publication, from, streaming);
        } catch (SQLException e) {
            if (isLoss(e)) {
                throw new Lost(e);
            }
            throw e;
        } catch (RuntimeException e) {
            throw lossOr(e);
        }
    }

    /** The replication connection is lost: closes it; the next {@link #start} opens another. */
    void lost() {
        if (session != null) {
            session.close();
            session = null;
        }
    }

    /** How many times a lost connection was opened again. */
    int reconnections() {
        return reconnections;
    }

    /** The replication stream's failure, to throw: {@link Lost}, or as it was (a driver error, or an unexpected one). */
    SQLException failed(Exception cause) {
        if (isLoss(cause)) {
            throw new Lost(cause);
        }
        if (cause instanceof RuntimeException unexpected) {
            throw unexpected;
        }
        return cause instanceof SQLException sql ? sql : new SQLException(cause.getMessage(), "XX000", cause);
    }

    /**
     * Whether a failure is the source's connection lost, which a new connection may cure: the server
     * restarting or its walsender ended. Right after a loss the slot may still be held by the walsender
     * of the lost connection, which has not noticed yet.
     */
    private boolean isLoss(Exception e) {
        return Retry.isTransient(e) || (session != setUpSession && "55006".equals(SqlErrors.sqlState(e)));
    }

    private RuntimeException lossOr(RuntimeException e) {
        return isLoss(e) ? new Lost(e) : e;
    }

    /** A query on the source's connection, its loss thrown as {@link Lost}. */
    private <T> T query(Supplier<T> query) {
        try {
            return query.get();
        } catch (RuntimeException e) {
            throw lossOr(e);
        }
    }

    /** Where the source's WAL ends now (see {@link CdcSource#walEnd()}). */
    @Override
    public Lsn walEnd() {
        return query(queries::walEnd);
    }

    /** Where the WAL the source has written to disk ends now (see {@link CdcSource#walFlushed()}). */
    Lsn walFlushed() {
        return query(queries::walFlushed);
    }

    /** How long the source may keep a commit before writing it to disk (see {@link CdcSource#asynchronousCommitDelay()}). */
    Duration asynchronousCommitDelay() {
        return query(queries::asynchronousCommitDelay);
    }

    int serverVersion() {
        return query(queries::serverVersion);
    }

    @Override
    public List<String> rowKey(long oid) {
        return query(() -> queries.rowKey(oid));
    }

    @Override
    public Map<String, Optional<String>> olderRowValues(long oid, List<String> columns) {
        return query(() -> queries.olderRowValues(oid, columns));
    }

    @Override
    public Map<Long, TableRef> tablesNamed(List<Long> oids) {
        return query(() -> queries.tablesNamed(oids));
    }

    /** The slot as the source shows it now, for the summary; nothing when the source cannot say. */
    Optional<CdcSource.Slot> slotNow(RunContext run) {
        try {
            return queries.slot(slot);
        } catch (RuntimeException e) {
            run.warn("could not read the state of slot %s: %s".formatted(slot, SqlErrors.serverMessage(e)));
            return Optional.empty();
        }
    }

    /**
     * Writes a logical message into the source's WAL when {@code everySeconds} have passed since the last
     * one (the first at once, which also checks that the user may).
     */
    void heartbeat(int everySeconds) {
        if (everySeconds == 0 || (lastHeartbeat != 0 && System.nanoTime() - lastHeartbeat < TimeUnit.SECONDS.toNanos(everySeconds))) {
            return;
        }
        try {
            queries.emitHeartbeat(slot);
        } catch (RuntimeException e) {
            if ("42501".equals(SqlErrors.sqlState(e))) {
                throw DatakitException.badInput("--heartbeat writes pg_logical_emit_message() on the source, and the source user may not: %s. "
                    + "GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO the user, or drop --heartbeat.",
                    SqlErrors.serverMessage(e));
            }
            throw lossOr(e);
        }
        lastHeartbeat = System.nanoTime();
    }

    private void reopenQueries() {
        closeQueries();
        queries = CdcSource.open(source.settings());
        int lostWalsender = walsender;
        queries.slot(slot).flatMap(CdcSource.Slot::activePid).filter(pid -> pid == lostWalsender).ifPresent(queries::terminate);
    }

    private void closeQueries() {
        if (queries != setUpQueries) {
            queries.close();
            queries = setUpQueries; // until another is open: never a closed connection of ours
        }
    }

    /** Closes what it opened; the set-up closes its own. */
    @Override
    public void close() {
        if (session != setUpSession) {
            lost();
        }
        closeQueries();
    }
}
