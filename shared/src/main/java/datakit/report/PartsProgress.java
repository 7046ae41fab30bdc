package datakit.report;

import datakit.db.CopyPipe;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * How a partitioned load is going, on stderr, for workers that copy parts at once: a line per part
 * finished or kept, and the overall count (parts, rows, rate, ETA) redrawn on a terminal or logged
 * every ten seconds otherwise.
 */
public final class PartsProgress {
    private static final long REDRAW_NANOS = 200_000_000L;
    private static final long LOG_NANOS = 10_000_000_000L;

    private final PrintWriter err;
    private final boolean terminal;
    private final int parts;
    private final long estimatedRows;
    private final long startNanos = System.nanoTime();
    private final Map<String, Long> copying = new ConcurrentHashMap<>();
    private long lastShownNanos = startNanos;
    private int done;
    private long doneRows;
    private boolean drawn;

    public PartsProgress(PrintWriter err, boolean terminal, int parts, long estimatedRows) {
        this.err = err;
        this.terminal = terminal;
        this.parts = parts;
        this.estimatedRows = estimatedRows;
    }

    /** The progress callback of one part's COPY. */
    public CopyPipe.Progress of(String part) {
        copying.put(part, 0L);
        return (rows, bytes) -> {
            copying.put(part, rows);
            tick(false);
        };
    }

    /** A part copied ({@code kept} false) or kept as it was; prints its line. */
    public synchronized void finished(String part, boolean kept, long rows, long millis) {
        copying.remove(part);
        done++;
        doneRows += rows;
        clearBar();
        err.println(kept
            ? "part %d/%d %s: unchanged, kept its %,d rows".formatted(done, parts, part, rows)
            : "part %d/%d %s: %,d rows in %s".formatted(done, parts, part, rows, RunSummary.seconds(millis)));
        err.flush();
        tick(true);
    }

    /** A part found staged already (by a run before, or an earlier attempt of this one): counted, without a line of its own. */
    public synchronized void stagedBefore(long rows) {
        done++;
        doneRows += rows;
    }

    /** Clears the bar so the summary starts on a clean line. */
    public synchronized void close() {
        clearBar();
        err.flush();
    }

    private synchronized void tick(boolean force) {
        long now = System.nanoTime();
        if (!force && now - lastShownNanos < (terminal ? REDRAW_NANOS : LOG_NANOS) || !terminal && force) {
            return;
        }
        lastShownNanos = now;
        long rows = doneRows + copying.values().stream().mapToLong(Long::longValue).sum();
        double seconds = (now - startNanos) / 1e9;
        long rate = seconds > 0 ? (long) (rows / seconds) : 0;
        var line = new StringBuilder("%d/%d parts, %d copying, %,d rows".formatted(done, parts, copying.size(), rows));
        if (estimatedRows > 0) {
            line.append(" (~%d%%)".formatted(Math.min(99, 100 * rows / estimatedRows)));
        }
        line.append(", %,d rows/s".formatted(rate));
        if (estimatedRows > rows && rate > 0) {
            long eta = (estimatedRows - rows) / rate;
            line.append(String.format(Locale.ROOT, ", ETA %d:%02d", eta / 60, eta % 60));
        }
        if (terminal) {
            err.print("\r" + line + "\u001b[K");
            drawn = true;
        } else {
            err.println("progress: " + line);
        }
        err.flush();
    }

    private void clearBar() {
        if (drawn) {
            err.print("\r\u001b[K");
            drawn = false;
        }
    }
}
