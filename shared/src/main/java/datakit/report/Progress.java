package datakit.report;

import datakit.db.CopyPipe;
import java.io.Console;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * Shows how a load is going, on stderr: a redrawn progress bar (rows, rows/s, ETA from the planner's
 * estimate) on a terminal, or a plain line every ten seconds when output goes to a log.
 */
public final class Progress implements CopyPipe.Progress {
    private static final long REDRAW_NANOS = 200_000_000L;
    private static final long LOG_NANOS = 10_000_000_000L;
    private static final int BAR_WIDTH = 24;

    private final PrintWriter err;
    private final boolean terminal;
    private final String label;
    private final long estimatedRows;
    private final long startNanos = System.nanoTime();
    private long lastShownNanos = startNanos;
    private boolean drawn;

    public Progress(PrintWriter err, boolean terminal, String label, long estimatedRows) {
        this.err = err;
        this.terminal = terminal;
        this.label = label;
        this.estimatedRows = estimatedRows;
    }

    /** Whether stderr is an interactive terminal (Java 22+ reports redirection via Console.isTerminal). */
    public static boolean onTerminal() {
        Console console = System.console();
        if (console == null) {
            return false;
        }
        try {
            return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException e) {
            return true;
        }
    }

    @Override
    public void advanced(long rows, long bytes) {
        long now = System.nanoTime();
        if (now - lastShownNanos < (terminal ? REDRAW_NANOS : LOG_NANOS)) {
            return;
        }
        lastShownNanos = now;
        double seconds = (now - startNanos) / 1e9;
        long rate = seconds > 0 ? (long) (rows / seconds) : 0;
        if (terminal) {
            err.print("\r" + bar(rows, rate) + "\u001b[K");
            drawn = true;
        } else {
            err.println("progress: %s %,d rows%s, %,d rows/s, %s".formatted(label, rows, percent(rows), rate, Sizes.bytes(bytes)));
        }
        err.flush();
    }

    /** Clears the bar so the summary starts on a clean line. */
    public void done() {
        if (drawn) {
            err.print("\r\u001b[K");
            err.flush();
        }
    }

    private String bar(long rows, long rate) {
        var line = new StringBuilder(label).append("  ");
        if (estimatedRows > 0) {
            int filled = (int) Math.min(BAR_WIDTH, BAR_WIDTH * rows / estimatedRows);
            line.append('[').append("#".repeat(filled)).append("-".repeat(BAR_WIDTH - filled)).append("] ");
        }
        line.append("%,d rows%s  %,d rows/s".formatted(rows, percent(rows), rate));
        if (estimatedRows > rows && rate > 0) {
            long eta = (estimatedRows - rows) / rate;
            line.append(String.format(Locale.ROOT, "  ETA %d:%02d", eta / 60, eta % 60));
        }
        return line.toString();
    }

    private String percent(long rows) {
        return estimatedRows > 0 ? " (~%d%%)".formatted(Math.min(99, 100 * rows / estimatedRows)) : "";
    }
}
