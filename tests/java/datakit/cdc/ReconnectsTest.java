package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import datakit.db.Retry;
import datakit.error.DatakitException;
import datakit.report.RunContext;
import datakit.wal.Lsn;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.SQLException;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** How many times, and when, a change stream takes its lost replication connection up again. */
class ReconnectsTest {
    static final Lsn CHECKPOINT = Lsn.parse("0/1A2B3C");

    final StringWriter err = new StringWriter();
    final long[] now = {0};

    Reconnects reconnects(int maxRetries) {
        var run = new RunContext("postgres-cdc", UUID.randomUUID(), new PrintWriter(new StringWriter()), new PrintWriter(err), false, false,
            false, false);
        return new Reconnects(run, new Retry(maxRetries, Duration.ofSeconds(1)), "sales_cdc", () -> now[0]);
    }

    static StreamSource.Lost lost(String why) {
        return new StreamSource.Lost(new SQLException(why, "08006"));
    }

    void seconds(long seconds) {
        now[0] += TimeUnit.SECONDS.toNanos(seconds);
    }

    /** Attempts that take longer than 30 s to fail never streamed: each is one more loss in the row. */
    @Test
    void reconnectionsThatTakeLongToFailAreCountedAndTheRunGivesUp() {
        var reconnects = reconnects(2);
        reconnects.streaming();
        seconds(40);
        assertThat(reconnects.lost(lost("the source closed the connection"), CHECKPOINT)).isEqualTo(Duration.ofSeconds(1));
        seconds(41);
        assertThat(reconnects.lost(lost("Connection attempt timed out"), CHECKPOINT)).isEqualTo(Duration.ofSeconds(2));
        seconds(42);

        assertThatThrownBy(() -> reconnects.lost(lost("Connection attempt timed out"), CHECKPOINT)).isInstanceOf(DatakitException.class)
            .hasMessage("Capturing the changes of slot sales_cdc failed: the replication connection to the source was lost and 2 "
                + "reconnections failed (last: Connection attempt timed out). Bronze holds every change up to 0/1A2B3C, and the next run "
                + "resumes there; check that the source is up and reachable.");
        assertThat(err.toString().lines()).containsExactly(
            "WARNING: attempt 2 of streaming slot sales_cdc in 1 s, after the replication connection to the source was lost (the source "
                + "closed the connection)",
            "WARNING: attempt 3 of streaming slot sales_cdc in 2 s, after the replication connection to the source was lost (Connection "
                + "attempt timed out)");
    }

    @Test
    void aConnectionThatStreamedForThirtySecondsStartsANewCount() {
        var reconnects = reconnects(1);
        for (int loss = 0; loss < 5; loss++) {
            reconnects.streaming();
            seconds(30);
            assertThat(reconnects.lost(lost("terminating connection due to administrator command"), CHECKPOINT)).isEqualTo(Duration.ofSeconds(1));
        }
        assertThat(err.toString().lines()).hasSize(5).allMatch(line -> line.startsWith("WARNING: attempt 2 of streaming slot sales_cdc in 1 s"));
    }

    @Test
    void theFailureSaysWhetherReconnectionsFailedOrWereLostAgain() {
        var lostAgain = reconnects(2);
        for (int loss = 0; loss < 2; loss++) {
            lostAgain.streaming();
            seconds(5);
            lostAgain.lost(lost("terminating connection due to administrator command"), CHECKPOINT);
        }
        lostAgain.streaming();
        assertThatThrownBy(() -> lostAgain.lost(lost("terminating connection due to administrator command"), CHECKPOINT))
            .hasMessageContaining("the replication connection to the source was lost, and lost again within 30 s after each of 2 "
                + "reconnections (last: terminating connection due to administrator command).");

        var mixed = reconnects(2);
        mixed.streaming();
        mixed.lost(lost("the source closed the connection"), CHECKPOINT);
        mixed.lost(lost("too many connections for role \"cdc\""), CHECKPOINT);
        mixed.streaming();
        assertThatThrownBy(() -> mixed.lost(lost("the source closed the connection"), CHECKPOINT))
            .hasMessageContaining("was lost, and of 2 reconnections 1 failed and 1 was lost again within 30 s (last: the source closed the "
                + "connection).");
    }

    @Test
    void withoutRetriesTheFirstLossEndsTheRun() {
        var reconnects = reconnects(0);
        reconnects.streaming();
        seconds(60);

        assertThatThrownBy(() -> reconnects.lost(lost("the source closed the connection"), CHECKPOINT))
            .hasMessageStartingWith("Capturing the changes of slot sales_cdc failed: the replication connection to the source was lost, and "
                + "max_retries is 0, so the run does not reconnect (last: the source closed the connection). Bronze holds every change up "
                + "to 0/1A2B3C");
        assertThat(err.toString()).isEmpty();
    }
}
