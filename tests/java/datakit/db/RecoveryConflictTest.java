package datakit.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;
import org.junit.jupiter.api.Test;

/**
 * Recovery conflicts are told by where the server raised them, in any language, and a run's nested retries share one budget
 * that counts what they met.
 */
class RecoveryConflictTest {

    /** An error as the server sends it: severity, SQLSTATE, message, file, routine. */
    static PSQLException serverError(String state, String message, String file, String routine) {
        return new PSQLException(new ServerErrorMessage("SERROR\0VERROR\0C" + state + "\0M" + message + "\0F" + file + "\0L3200\0R" + routine + "\0"));
    }

    @Test
    void aConflictIsRecognisedByWhereTheServerRaisedItWhateverTheLanguage() {
        // PostgreSQL 17 on, lc_messages = de_DE.
        assertThat(RecoveryConflict.is(serverError("40001", "storniere Anfrage wegen Konflikt mit der Wiederherstellung", "postgres.c",
            "ProcessRecoveryConflictInterrupt"))).isTrue();
        // Up to 16, and the buffer-pin deadlock with the replay.
        assertThat(RecoveryConflict.is(serverError("40001", "annulation de la requête", "postgres.c", "ProcessInterrupts"))).isTrue();
        assertThat(RecoveryConflict.is(serverError("40P01", "Abbruch", "standby.c", "CheckRecoveryConflictDeadlock"))).isTrue();
        // Wrapped, as a plan's catalog reads are.
        assertThat(RecoveryConflict.is(new IllegalStateException(serverError("40001", "x", "postgres.c", "ProcessRecoveryConflictInterrupt"))))
            .isTrue();
    }

    @Test
    void aLockDeadlockOrAWritersSerializationFailureIsNoConflict() {
        assertThat(RecoveryConflict.is(serverError("40P01", "Verklemmung entdeckt", "deadlock.c", "DeadLockReport"))).isFalse();
        assertThat(RecoveryConflict.is(serverError("40001", "could not serialize access due to concurrent update", "heapam.c",
            "heap_update"))).isFalse();
        assertThat(RecoveryConflict.is(serverError("57P01", "terminating connection due to administrator command", "postgres.c",
            "ProcessInterrupts"))).isFalse();
    }

    @Test
    void nestedRetriesOfALoadShareOneBudgetAndTheLastLineCountsEveryConflict() {
        var retry = Retry.forLoad(new Retry(2, Duration.ZERO), new Retry(5, Duration.ZERO));
        var attempts = new AtomicInteger();

        var error = assertThrows(RecoveryConflict.class, () -> retry.run(outer -> retry.run(inner -> {
            attempts.incrementAndGet();
            throw serverError("40001", "canceling statement due to conflict with recovery", "postgres.c", "ProcessInterrupts");
        })));

        assertThat(attempts).as("the source's 2 retries, for the inner and outer loops together").hasValue(3);
        assertThat(SqlErrors.failure("Copying x", error).getMessage())
            .contains("(a recovery conflict), 3 times; the source's max_retries left no more retries.");
    }

    @Test
    void otherFailuresOfALoadDrawOnTheWarehousesRetries() throws SQLException {
        var retry = Retry.forLoad(new Retry(0, Duration.ZERO), new Retry(2, Duration.ZERO));
        var attempts = new AtomicInteger();

        String result = retry.run(attempt -> {
            if (attempts.incrementAndGet() <= 2) {
                throw new SQLException("connection lost", "08006");
            }
            return "done";
        });

        assertThat(result).isEqualTo("done");
        assertThrows(SQLException.class, () -> retry.run(attempt -> {
            throw new SQLException("connection lost", "08006");
        }));
    }
}
