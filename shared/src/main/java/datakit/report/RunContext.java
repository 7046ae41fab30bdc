package datakit.report;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What every run shares: the datakit's name, the run id, where output goes and how it is shaped.
 * stdout carries the summary (one JSON object with {@code --json}); stderr carries progress and warnings.
 */
public record RunContext(String datakit, UUID runId, PrintWriter out, PrintWriter err, boolean json, boolean verbose,
                         boolean dryRun, boolean terminal, Outcome outcome) {

    public RunContext(String datakit, UUID runId, PrintWriter out, PrintWriter err, boolean json, boolean verbose, boolean dryRun,
                      boolean terminal) {
        this(datakit, runId, out, err, json, verbose, dryRun, terminal, new Outcome());
    }

    /** What the run reported, for --metrics-file: its summaries, and gauges a mode adds (a slot's lag). */
    public static final class Outcome {
        private final List<RunSummary> summaries = new CopyOnWriteArrayList<>();
        private final Map<String, Long> gauges = new ConcurrentHashMap<>();
        private final Map<String, String> databases = new ConcurrentHashMap<>();

        public List<RunSummary> summaries() {
            return summaries;
        }

        public Map<String, Long> gauges() {
            return gauges;
        }

        /** The databases the run connected to, by role (source, warehouse): host:port/database, for lineage. */
        public Map<String, String> databases() {
            return databases;
        }
    }

    /** Keeps a number for --metrics-file, named as a Prometheus metric suffix (slot_lag_bytes). */
    public void gauge(String name, long value) {
        outcome.gauges().put(name, value);
    }

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
