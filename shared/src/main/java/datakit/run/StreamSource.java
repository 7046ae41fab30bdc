package datakit.run;

import datakit.cdc.ApplySource;
import datakit.cdc.CdcSource;
import datakit.cdc.ReplicationSession;
import datakit.cli.DatakitException;
import datakit.db.Database;
import datakit.db.Retry;
import datakit.db.SqlErrors;
import datakit.sql.TableRef;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The source's side of a change stream: its replication connection, and a plain connection for the
 * stream's own queries (where the WAL ends, row keys, the slot's state, the heartbeat). Both start as
 * the set-up's. When the replication connection is lost, the next {@link #session()} opens both again,
 * and ends the walsender of the lost connection if it still holds the slot.
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

    StreamSource(Database source, CdcSource setUpQueries, ReplicationSession setUpSession, String slot) {
        this.source = source;
        this.setUpQueries = setUpQueries;
        this.setUpSession = setUpSession;
        this.slot = slot;
        this.queries = setUpQueries;
        this.session = setUpSession;
    }

    /** The replication connection: the set-up's, or after a loss a new one, with a new connection for queries. */
    ReplicationSession session() throws SQLException {
        if (session == null) {
            reopenQueries();
            session = ReplicationSession.open(source.settings());
            reconnections++;
        }
        walsender = session.backendPid();
        return session;
    }

    /** The replication connection is lost: closes it; the next {@link #session()} opens another. */
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

    /**
     * Whether a failure is the source's connection lost, which a new connection may cure: the server
     * restarting or its walsender ended. Right after a loss the slot may still be held by the walsender
     * of the lost connection, which has not noticed yet.
     */
    boolean isLoss(Exception e) {
        return Retry.isTransient(e) || (session != setUpSession && "55006".equals(SqlErrors.sqlState(e)));
    }

    /** Where the source's WAL ends now (see {@link CdcSource#walEnd()}). */
    long walEnd() {
        return queries.walEnd();
    }

    int serverVersion() {
        return queries.serverVersion();
    }

    @Override
    public List<String> rowKey(TableRef table) {
        return queries.rowKey(table);
    }

    @Override
    public Map<String, Optional<String>> olderRowValues(TableRef table, List<String> columns) {
        return queries.olderRowValues(table, columns);
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
            throw e;
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
