package datakit.db;

import java.sql.SQLException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

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
    /** The retries every run of this policy draws on together, or null: each run counts its own. */
    private final Budget budget;

    public Retry(int maxRetries, Duration firstDelay) {
        this(maxRetries, firstDelay, null);
    }

    private Retry(int maxRetries, Duration firstDelay, Budget budget) {
        this.maxRetries = maxRetries;
        this.firstDelay = firstDelay;
        this.budget = budget;
    }

    /**
     * One budget for the whole of a run's load, which reads the source and writes the warehouse: every run of the returned
     * policy draws on it, however nested or parallel (a partitioned load's parts within the load's attempts), so in all the
     * load retries recovery conflicts (the source's) at most {@code source}'s max_retries times, and other failures at most
     * {@code warehouse}'s.
     */
    public static Retry forLoad(Retry source, Retry warehouse) {
        return new Retry(warehouse.maxRetries, warehouse.firstDelay, new Budget(source.maxRetries, warehouse.maxRetries));
    }

    /** Retries shared by the runs of one policy, counted apart for recovery conflicts and other failures. */
    private static final class Budget {
        private final int conflictRetries;
        private final int otherRetries;
        private final AtomicInteger conflictsRetried = new AtomicInteger();
        private final AtomicInteger othersRetried = new AtomicInteger();

        Budget(int conflictRetries, int otherRetries) {
            this.conflictRetries = conflictRetries;
            this.otherRetries = otherRetries;
        }

        /** Takes one retry if any is left. */
        boolean take(boolean conflict) {
            AtomicInteger used = conflict ? conflictsRetried : othersRetried;
            int limit = conflict ? conflictRetries : otherRetries;
            return used.getAndUpdate(n -> n < limit ? n + 1 : n) < limit;
        }
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
     * Runs {@code work} until it succeeds, fails for good, or has used up its retries ({@code maxRetries}, or the shared
     * budget of {@link #forLoad}). A recovery conflict is retried wherever it surfaces, also wrapped in a runtime exception
     * (a plan's catalog reads); when the retries run out it ends as a {@link RecoveryConflict} that counts the conflicts,
     * which a retry around this one passes on as it is: one loop giving up ends the run.
     */
    public <T> T run(Attempt<T> work, Retrying retrying) throws SQLException {
        int conflicts = 0;
        for (int attempt = 1; ; attempt++) {
            try {
                return work.run(attempt);
            } catch (SQLException | RuntimeException e) {
                boolean conflict = RecoveryConflict.is(e);
                if (causedBy(e, RecoveryConflict.class) || !conflict && !(e instanceof SQLException && isTransient(e))) {
                    throw e;
                }
                conflicts += conflict ? 1 : 0;
                if (budget == null ? !retries(attempt) : !budget.take(conflict)) {
                    if (conflict) {
                        throw new RecoveryConflict(e, budget == null ? conflicts : budget.conflictsRetried.get() + 1);
                    }
                    throw e;
                }
                sleep(delay(attempt));
                retrying.before(attempt + 1, e);
            }
        }
    }

    /** What ended an attempt, for the line that announces the next one: named by its SQLSTATE, a recovery conflict by its reason. */
    public static String cause(Throwable failure) {
        if (RecoveryConflict.is(failure)) {
            return "a recovery conflict on the hot standby: " + RecoveryConflict.reason(failure);
        }
        String state = transientState(failure);
        return switch (state == null ? "" : state) {
            case "40P01" -> "a deadlock";
            case "40001" -> "a serialization failure";
            case "53300" -> "too many connections on the server";
            case "57P01" -> "the end of the server process (an administrator's command or a shutdown)";
            case "57P02" -> "a server crash";
            case "57P03" -> "the server starting up or shutting down";
            default -> "a connection failure";
        };
    }

    /** The SQLSTATE in the cause chain that makes a failure one that may pass, or null (a lost connection without one). */
    private static String transientState(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && sql.getSQLState() != null && TRANSIENT_STATES.contains(sql.getSQLState())) {
                return sql.getSQLState();
            }
        }
        return null;
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
