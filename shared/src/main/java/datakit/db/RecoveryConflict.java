package datakit.db;

import java.sql.SQLException;
import java.util.Map;
import java.util.Set;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * A read that a hot standby cancelled to go on replaying its primary's changes: the primary removed row
 * versions the read could still see (DELETE or UPDATE, then VACUUM), or took a lock that conflicts with the
 * read's (DROP, TRUNCATE, a VACUUM shortening the table). The standby cancels the statement, or ends the
 * session if it sat idle in a transaction ({@code FATAL}), after {@code max_standby_streaming_delay}.
 * The same read a moment later usually passes, so {@link Retry} retries it; as an exception, it is what
 * {@link Retry} throws once it gives up, and {@link SqlErrors#failure} names it with the settings that avoid it.
 */
public final class RecoveryConflict extends SQLException {
    /**
     * Where the server raises recovery conflicts, which unlike the message is never translated: serialization failures
     * (40001) from the interrupt handling of tcop/postgres.c (ProcessInterrupts up to PostgreSQL 16,
     * ProcessRecoveryConflictInterrupt from 17), where nothing else raises that state, and the buffer-pin deadlock with the
     * replay (40P01) from storage/ipc/standby.c (CheckRecoveryConflictDeadlock). A lock deadlock, also 40P01, comes from
     * elsewhere (deadlock.c) and is retried as one.
     */
    private static final Map<String, String> FILES = Map.of("40001", "postgres.c", "40P01", "standby.c");
    private static final Set<String> ROUTINES = Set.of("ProcessInterrupts", "ProcessRecoveryConflictInterrupt",
        "ProcessRecoveryConflictInterrupts", "CheckRecoveryConflictDeadlock");

    private final int conflicts;

    /** @param conflicts how many conflicts the retries met, this last one included */
    RecoveryConflict(Throwable last, int conflicts) {
        super(SqlErrors.serverMessage(last), "40001", last);
        this.conflicts = conflicts;
    }

    /** Whether {@code e}, or one of its causes, is a recovery conflict. */
    public static boolean is(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RecoveryConflict || t instanceof PSQLException p && p.getServerErrorMessage() != null
                && raisedByConflict(p.getServerErrorMessage())) {
                return true;
            }
        }
        return false;
    }

    /** By the state and where the server raised it; by the English message when a server sends no file or routine. */
    static boolean raisedByConflict(ServerErrorMessage m) {
        String file = FILES.get(m.getSQLState());
        return file != null && (file.equals(m.getFile()) || ROUTINES.contains(m.getRoutine())
            || m.getMessage() != null && m.getMessage().contains("conflict with recovery"));
    }

    /** The server's message and its detail ("User was holding a relation lock for too long"), for the line that announces a retry. */
    static String reason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof PSQLException p && p.getServerErrorMessage() != null) {
                ServerErrorMessage m = p.getServerErrorMessage();
                return m.getMessage() + (m.getDetail() == null ? "" : " (" + m.getDetail().replaceAll("\\.$", "") + ")");
            }
        }
        return SqlErrors.serverMessage(e);
    }

    /** What happened and what avoids it, after the server's message: how many conflicts ended the retries, when known. */
    static String explain(Throwable e) {
        String tries = "";
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RecoveryConflict conflict) {
                tries = conflict.conflicts == 1 ? ", and the source's max_retries left no retry"
                    : ", %d times; the source's max_retries left no more retries".formatted(conflict.conflicts);
                break;
            }
        }
        return "The hot standby cancelled the read to go on replaying its primary's changes (a recovery conflict)" + tries
            + ". Set hot_standby_feedback=on on the standby (the primary then keeps the row versions its reads need), and raise its "
            + "max_standby_streaming_delay above the longest read (replay then waits that long for a lock), or read from the primary";
    }
}
