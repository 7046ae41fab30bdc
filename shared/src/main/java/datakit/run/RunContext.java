package datakit.run;

import java.io.PrintWriter;
import java.util.UUID;

/**
 * What every run shares: the datakit's name, the run id, where output goes and how it is shaped.
 * stdout carries the summary (one JSON object with {@code --json}); stderr carries progress and warnings.
 */
public record RunContext(String datakit, UUID runId, PrintWriter out, PrintWriter err, boolean json, boolean verbose,
                         boolean dryRun, boolean terminal) {

    /** A detail for --verbose, stamped with the milliseconds since the JVM started. */
    public void info(String message) {
        if (verbose) {
            long uptime = java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime();
            err.println("[+%d ms] %s".formatted(uptime, message));
            err.flush();
        }
    }

    public void warn(String message) {
        err.println("WARNING: " + message);
        err.flush();
    }
}
