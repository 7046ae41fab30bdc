package datakit.cdc;

import datakit.db.Retry;
import datakit.error.DatakitException;
import datakit.report.RunContext;
import datakit.wal.Lsn;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * How a change stream takes its lost replication connection up again: with the source's retry policy
 * ({@code max_retries}, waits of 1, 2, 4... s) over the losses in a row. A connection that streamed for
 * {@link #STEADY} before it was lost starts a new count. It streams from when the server answered
 * START_REPLICATION: an attempt that takes long to fail (a source that takes the connection and answers
 * late) is one more loss in the row, never a connection that streamed.
 */
final class Reconnects {
    static final Duration STEADY = Duration.ofSeconds(30);
    private static final long PAUSE_STEP_MS = 50;

    private final RunContext run;
    private final Retry retry;
    private final String slot;
    private final LongSupplier nanoClock;
    private boolean streaming;
    private long streamingSince;
    /** Losses in a row, the first included; of the reconnections in between, those that failed and those lost again. */
    private int losses;
    private int failed;
    private int lostAgain;

    Reconnects(RunContext run, Retry retry, String slot, LongSupplier nanoClock) {
        this.run = run;
        this.retry = retry;
        this.slot = slot;
        this.nanoClock = nanoClock;
    }

    /** The current connection streams: the server answered START_REPLICATION. */
    void streaming() {
        streaming = true;
        streamingSince = nanoClock.getAsLong();
    }

    /**
     * Counts a loss and says on stderr which attempt comes next, and when; returns the wait before it. When the
     * retries are used up, throws the run's one-line failure instead.
     *
     * @param checkpoint what bronze holds: where the next attempt, or the next run, starts
     */
    Duration lost(StreamSource.Lost loss, Lsn checkpoint) {
        if (streaming && nanoClock.getAsLong() - streamingSince >= STEADY.toNanos()) {
            losses = 0;
            failed = 0;
            lostAgain = 0;
        } else if (losses > 0) {
            if (streaming) {
                lostAgain++;
            } else {
                failed++;
            }
        }
        losses++;
        streaming = false;
        if (!retry.retries(losses)) {
            throw gaveUp(loss, checkpoint);
        }
        Duration delay = retry.delay(losses);
        run.warn("attempt %d of streaming slot %s in %d s, after the replication connection to the source was lost (%s)"
            .formatted(losses + 1, slot, delay.toSeconds(), loss.reason()));
        return delay;
    }

    private DatakitException gaveUp(StreamSource.Lost loss, Lsn checkpoint) {
        String what = losses == 1 ? "was lost, and max_retries is 0, so the run does not reconnect"
            : lostAgain == 0 ? "was lost and " + count(failed, "reconnection") + " failed"
            : failed == 0 ? "was lost, and lost again within %d s after each of %s".formatted(STEADY.toSeconds(), count(lostAgain, "reconnection"))
            : "was lost, and of %d reconnections %d failed and %d %s lost again within %d s".formatted(losses - 1, failed, lostAgain,
                lostAgain == 1 ? "was" : "were", STEADY.toSeconds());
        return DatakitException.failed(("Capturing the changes of slot %s failed: the replication connection to the source "
            + "%s (last: %s). Bronze holds every change up to %s, and the next run resumes there; check that the source is up and "
            + "reachable.").formatted(slot, what, loss.reason(), checkpoint), loss.getCause());
    }

    private static String count(int n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }

    /** Waits {@code delay} before the next attempt; false when the run was asked to stop meanwhile. */
    static boolean pause(Duration delay, BooleanSupplier stopRequested) throws InterruptedException {
        long until = System.nanoTime() + delay.toNanos();
        while (!stopRequested.getAsBoolean() && System.nanoTime() - until < 0) {
            Thread.sleep(PAUSE_STEP_MS);
        }
        return !stopRequested.getAsBoolean();
    }
}
