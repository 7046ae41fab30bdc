package datakit.db;

import static datakit.db.RecoveryConflictTest.serverError;
import static org.assertj.core.api.Assertions.assertThat;

import java.sql.SQLTransientConnectionException;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;
import org.postgresql.util.PSQLState;

/** The line that announces a retry names what ended the attempt before by its class, not every failure as a lost connection. */
class RetryTest {

    @Test
    void eachFailureThatMayPassIsNamedByItsClass() {
        assertThat(Retry.cause(serverError("40P01", "deadlock detected", "deadlock.c", "DeadLockReport"))).isEqualTo("a deadlock");
        assertThat(Retry.cause(serverError("40001", "could not serialize access due to concurrent update", "heapam.c", "heap_update")))
            .isEqualTo("a serialization failure");
        assertThat(Retry.cause(serverError("57P01", "terminating connection due to administrator command", "postgres.c",
            "ProcessInterrupts"))).isEqualTo("the end of the server process (an administrator's command or a shutdown)");
        assertThat(Retry.cause(serverError("57P03", "the database system is starting up", "postmaster.c", "ProcessStartupPacket")))
            .isEqualTo("the server starting up or shutting down");
        // A pool's wrapper around the server's refusal.
        assertThat(Retry.cause(new SQLTransientConnectionException("datakit-warehouse - Connection is not available", "08001",
            serverError("53300", "sorry, too many clients already", "proc.c", "InitProcess")))).isEqualTo("too many connections on the server");
        assertThat(Retry.cause(new PSQLException("An I/O error occurred while sending to the backend.", PSQLState.CONNECTION_FAILURE)))
            .isEqualTo("a connection failure");
        assertThat(Retry.cause(serverError("40001", "canceling statement due to conflict with recovery", "postgres.c",
            "ProcessRecoveryConflictInterrupt"))).startsWith("a recovery conflict on the hot standby: ");
    }
}
