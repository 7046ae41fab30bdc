package datakit.sandbox;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A server's stop action, run exactly once: when its owner closes it, or when the JVM exits if the
 * owner never did, so a forgotten sandbox does not outlive the program that started it.
 */
final class StopOnce {
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final Runnable stop;
    private final Thread hook;

    private StopOnce(Runnable stop) {
        this.stop = stop;
        this.hook = new Thread(this::stopOnce, "datakit-sandbox-stop");
    }

    /** Registers {@code stop} to run at JVM exit unless {@link #now()} runs it first. */
    static StopOnce atExit(Runnable stop) {
        var once = new StopOnce(stop);
        Runtime.getRuntime().addShutdownHook(once.hook);
        return once;
    }

    /** Runs the stop action unless it has run; the exit hook is no longer needed. */
    void now() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // The JVM is shutting down: this is the hook running.
        }
        stopOnce();
    }

    private void stopOnce() {
        if (stopped.compareAndSet(false, true)) {
            stop.run();
        }
    }
}
