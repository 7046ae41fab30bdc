package datakit.cdc;

import datakit.report.RunContext;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * SIGTERM (or Ctrl-C) for a followed change stream: the stream stops at the next transaction boundary,
 * after committing what it has, and the JVM waits up to 30 s for the run's end (its summary printed).
 */
final class StopSignal {
    private final RunContext run;
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile boolean requested;
    private volatile MessageReader reader;
    private Thread hook;

    StopSignal(RunContext run) {
        this.run = run;
    }

    /** From now until {@link #ignore()}, a SIGTERM stops the stream. */
    void listen() {
        hook = new Thread(() -> {
            requested = true;
            MessageReader active = reader;
            if (active != null) {
                active.stop();
            }
            try {
                if (!done.await(30, TimeUnit.SECONDS)) {
                    run.warn("the stream did not stop within 30 s; uncommitted changes will be read again by the next run");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "cdc-stop");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    void ignore() {
        if (hook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // The JVM is shutting down: the hook is running and waits for this stream to end.
            }
        }
    }

    boolean requested() {
        return requested;
    }

    /** The stream's reader from now on, stopped at once when a SIGTERM came before it. */
    void reading(MessageReader current) {
        reader = current;
        if (requested) {
            current.stop();
        }
    }

    /** The run is over, its summary printed: a SIGTERM waiting for it may let the JVM end. */
    void finished() {
        done.countDown();
    }
}
