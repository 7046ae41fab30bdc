package datakit.db;

import java.sql.SQLException;
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
    /** Serialization failure; a buffer deadlock with the replay. */
    private static final Set<String> STATES = Set.of("40001", "40P01");
    /** Where the backend raises every recovery conflict; unlike the message, it is never translated. */
    private static final String ROUTINE = "ProcessInterrupts";

    private final int attempts;

    RecoveryConflict(Throwable last, int attempts) {
        super(SqlErrors.serverMessage(last), "40001", last);
        this.attempts = attempts;
    }

    /** Whether {@code e}, or one of its causes, is a recovery conflict. */
    public static boolean is(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RecoveryConflict) {
                return true;
            }
            if (t instanceof PSQLException p && p.getServerErrorMessage() != null) {
                ServerErrorMessage m = p.getServerErrorMessage();
                if (STATES.contains(m.getSQLState()) && (ROUTINE.equals(m.getRoutine())
                    || (m.getMessage() != null && m.getMessage().contains("conflict with recovery")))) {
                    return true;
                }
            }
        }
        return false;
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

    /** What happened and what avoids it, after the server's message: how many attempts {@code e} ended, when known. */
    static String explain(Throwable e) {
        String tries = "";
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RecoveryConflict conflict) {
                tries = conflict.attempts == 1 ? ", on the only attempt" : ", on each of " + conflict.attempts + " attempts";
                break;
            }
        }
        return "The hot standby cancelled the read to go on replaying its primary's changes (a recovery conflict)" + tries
            + ". Set hot_standby_feedback=on on the standby (the primary then keeps the row versions its reads need), and raise its "
            + "max_standby_streaming_delay above the longest read (replay then waits that long for a lock), or read from the primary";
    }
}
