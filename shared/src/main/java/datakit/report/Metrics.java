package datakit.report;

import datakit.error.DatakitException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * {@code --metrics-file}: the run's figures in Prometheus' text format, for the node-exporter textfile
 * collector. The file is written next to its final name and renamed over it, so the collector never
 * reads half a file. Every metric carries the datakit's name and, once a run summarised, the stream.
 */
public final class Metrics {
    private Metrics() {
    }

    public static void write(Path file, RunContext run, boolean succeeded) {
        var text = new StringBuilder();
        long now = System.currentTimeMillis() / 1000;
        metric(text, "datakit_run_success", "gauge", "1 when the last run succeeded, 0 when it failed.");
        metric(text, "datakit_run_timestamp_seconds", "gauge", "When the last run ended, in seconds since 1970.");
        metric(text, "datakit_rows", "gauge", "Rows (or changes) the last run loaded.");
        metric(text, "datakit_bytes", "gauge", "Bytes of COPY data the last run streamed.");
        metric(text, "datakit_duration_seconds", "gauge", "How long the last run's load took.");
        String base = "datakit=\"" + label(run.datakit()) + "\"";
        if (run.outcome().summaries().isEmpty()) {
            sample(text, "datakit_run_success", base, succeeded ? 1 : 0);
            sample(text, "datakit_run_timestamp_seconds", base, now);
        }
        for (RunSummary summary : run.outcome().summaries()) {
            String labels = base + ",stream=\"" + label(summary.target()) + "\"";
            // A table of a set is a run of its own (its own run id): its success is its own, whatever another table did.
            boolean ownRun = !summary.runId().equals(run.runId());
            sample(text, "datakit_run_success", labels, (succeeded || ownRun) && !summary.status().equals("failed") ? 1 : 0);
            sample(text, "datakit_run_timestamp_seconds", labels, now);
            sample(text, "datakit_rows", labels, summary.rows());
            sample(text, "datakit_bytes", labels, summary.bytes());
            text.append("datakit_duration_seconds{").append(labels).append("} ")
                .append(String.format(Locale.ROOT, "%.3f", summary.durationMs() / 1000.0)).append('\n');
        }
        run.outcome().gauges().forEach((name, value) -> {
            metric(text, "datakit_" + name, "gauge", "Reported by " + run.datakit() + ".");
            sample(text, "datakit_" + name, base, value);
        });
        try {
            Path absolute = file.toAbsolutePath();
            // A temporary name of its own: runs of a job file may write the same metrics file at once.
            Path temporary = Files.createTempFile(absolute.getParent(), "." + absolute.getFileName() + ".", ".tmp");
            Files.writeString(temporary, text, StandardCharsets.UTF_8);
            Files.move(temporary, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw DatakitException.failed("Cannot write --metrics-file " + file + ": " + e.getMessage()
                + ". Check that its folder exists and is writable.", e);
        }
    }

    private static void metric(StringBuilder text, String name, String type, String help) {
        text.append("# HELP ").append(name).append(' ').append(help).append('\n').append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void sample(StringBuilder text, String name, String labels, long value) {
        text.append(name).append('{').append(labels).append("} ").append(value).append('\n');
    }

    /** A label value with Prometheus' escapes: backslash, double quote and newline. */
    private static String label(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
