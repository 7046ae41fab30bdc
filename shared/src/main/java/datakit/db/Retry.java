package datakit.db;

import java.sql.SQLException;
import java.time.Duration;
import java.util.Set;

/**
 * Retries work that failed for a reason that may pass (connection lost, server restarting, too many
 * connections, a read a hot standby cancelled to replay its primary's changes), with exponential backoff.
 * Everything else fails at once: retrying a wrong password or a missing table only delays the error.
 */
public final class Retry {
    private static final Set<String> TRANSIENT_STATES = Set.of(
        "57P01", // admin_shutdown: the backend was terminated
        "57P02", // crash_shutdown
        "57P03", // cannot_connect_now: the server is starting or shutting down
        "53300", // too_many_connections
        "40001", // serialization_failure, also a hot standby's recovery conflict
        "40P01"  // deadlock_detected
    );

    private final int maxRetries;
    private final Duration firstDelay;

    public Retry(int maxRetries, Duration firstDelay) {
        this.maxRetries = maxRetries;
        this.firstDelay = firstDelay;
    }

    /** Work that may throw SQLException; the attempt number starts at 1. */
    @FunctionalInterface
    public interface Attempt<T> {
        T run(int attempt) throws SQLException;
    }

    /** Told before each further attempt, with what ended the one before (for a line such as "attempt 2 ... after ..."). */
    @FunctionalInterface
    public interface Retrying {
        void before(int attempt, Throwable failure);
    }

    public <T> T run(Attempt<T> work) throws SQLException {
        return run(work, (attempt, failure) -> { });
    }

    /**
     * Runs {@code work} until it succeeds, fails for good, or has been retried {@code maxRetries} times. A
     * recovery conflict is retried wherever it surfaces, also wrapped in a runtime exception (a plan's
     * catalog reads); when the retries run out it ends as a {@link RecoveryConflict} that counts the attempts.
     */
    public <T> T run(Attempt<T> work, Retrying retrying) throws SQLException {
        for (int attempt = 1; ; attempt++) {
            try {
                return work.run(attempt);
            } catch (SQLException | RuntimeException e) {
                boolean conflict = RecoveryConflict.is(e);
                if (!conflict && !(e instanceof SQLException && isTransient(e))) {
                    throw e;
                }
                if (!retries(attempt)) {
                    if (conflict) {
                        throw new RecoveryConflict(e, attempt);
                    }
                    throw e;
                }
                sleep(delay(attempt));
                retrying.before(attempt + 1, e);
            }
        }
    }

    /** What ended an attempt, for the line that announces the next one. */
    public static String cause(Throwable failure) {
        return RecoveryConflict.is(failure) ? "a recovery conflict on the hot standby: " + RecoveryConflict.reason(failure)
            : "a connection failure";
    }

    /** Whether a failure of attempt {@code attempt} (the first is 1) may still be retried. */
    public boolean retries(int attempt) {
        return attempt <= maxRetries;
    }

    /** The pause after failed attempt {@code attempt}: the first delay, doubled for each attempt before. */
    public Duration delay(int attempt) {
        return firstDelay.multipliedBy(1L << Math.min(attempt - 1, 10));
    }

    public int maxRetries() {
        return maxRetries;
    }

    /** Whether any exception in the cause chain is a connection-class or otherwise passing failure. */
    public static boolean isTransient(Throwable e) {
        if (causedBy(e, java.net.UnknownHostException.class) || SqlErrors.certificateRejected(e)
                || SqlErrors.unsupportedStartupParameter(e).isPresent()) {
            return false;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && sql.getSQLState() != null) {
                String state = sql.getSQLState();
                // 08004: the server rejected the connection (no password given, no SSL): retrying cannot help.
                if ((state.startsWith("08") && !state.equals("08004")) || TRANSIENT_STATES.contains(state)) {
                    return true;
                }
            }
        }
        return false;
    }

    static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    private static void sleep(Duration delay) {
        try {
            Thread.sleep(delay);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting to retry", e);
        }
    }
}
