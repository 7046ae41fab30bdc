package datakit.jobs;

import datakit.report.RunSummary;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs the streams of a job file: each as soon as the streams it depends on have succeeded, at most
 * {@code parallelism} at a time. A stream that fails stops its dependants (they are skipped and say
 * why); the others go on. Prints one summary at the end.
 */
public final class JobRunner {
    /** Runs one stream's datakit; returns how it ended. */
    @FunctionalInterface
    public interface Launcher {
        Outcome run(JobFile.Stream stream);
    }

    /** How a stream ended: its exit code, and the last line it printed on stderr (its one-line error, if any). */
    public record Outcome(int exitCode, String lastError, long durationMs) {
    }

    private JobRunner() {
    }

    /** Runs every stream; returns the outcome of each, in the file's order ({@code null} exit code: skipped). */
    public static Map<String, Object> run(JobFile file, int parallelism, Launcher launcher) throws InterruptedException {
        Map<String, JobFile.Stream> streams = file.streams();
        var outcomes = new LinkedHashMap<String, Outcome>();
        var skipped = new LinkedHashMap<String, String>();
        var started = new ArrayList<String>();
        ExecutorService pool = Executors.newFixedThreadPool(parallelism);
        var running = new ExecutorCompletionService<Map.Entry<String, Outcome>>(pool);
        int inFlight = 0;
        try {
            while (true) {
                // Until nothing changes: a stream skipped late in this pass may be the reason to skip one earlier.
                for (boolean skippedMore = true; skippedMore; ) {
                    skippedMore = false;
                    for (JobFile.Stream stream : streams.values()) {
                        String name = stream.name();
                        if (started.contains(name) || skipped.containsKey(name)) {
                            continue;
                        }
                        var failedDependency = stream.dependsOn().stream()
                            .filter(d -> skipped.containsKey(d) || (outcomes.containsKey(d) && outcomes.get(d).exitCode() != 0)).findFirst();
                        if (failedDependency.isPresent()) {
                            String dependency = failedDependency.get();
                            skipped.put(name, "skipped: " + dependency + (skipped.containsKey(dependency) ? " was skipped" : " failed"));
                            skippedMore = true;
                        } else if (outcomes.keySet().containsAll(stream.dependsOn())) {
                            started.add(name);
                            running.submit(() -> Map.entry(name, launcher.run(stream)));
                            inFlight++;
                        }
                    }
                }
                if (inFlight == 0) {
                    break;
                }
                Future<Map.Entry<String, Outcome>> done = running.take();
                inFlight--;
                try {
                    var entry = done.get();
                    outcomes.put(entry.getKey(), entry.getValue());
                } catch (ExecutionException e) {
                    throw new IllegalStateException("a stream's runner failed: " + e.getCause(), e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        var report = new LinkedHashMap<String, Object>();
        for (String name : streams.keySet()) {
            var entry = new LinkedHashMap<String, Object>();
            entry.put("datakit", streams.get(name).datakit());
            Outcome outcome = outcomes.get(name);
            if (outcome == null) {
                entry.put("status", "skipped");
                entry.put("reason", skipped.get(name));
            } else {
                entry.put("status", outcome.exitCode() == 0 ? "succeeded" : "failed");
                entry.put("exit_code", outcome.exitCode());
                entry.put("duration_ms", outcome.durationMs());
                if (outcome.exitCode() != 0) {
                    entry.put("error", outcome.lastError());
                }
            }
            report.put(name, entry);
        }
        return report;
    }

    /**
     * The line to report from what a stream printed on stderr: its last ERROR line, else its last line.
     * A progress bar's redraws (each ended by a carriage return, which lines() splits on) and terminal
     * escapes are left out.
     */
    public static String lastError(String stderr) {
        var lines = stderr.lines()
            .map(line -> line.replaceAll("\u001B\\[[0-9;?]*[A-Za-z]", "").strip())
            .filter(line -> !line.isEmpty()).toList();
        return lines.stream().filter(line -> line.startsWith("ERROR: ")).reduce((first, second) -> second)
            .orElse(lines.isEmpty() ? "" : lines.get(lines.size() - 1));
    }

    /** Whether every stream succeeded. */
    @SuppressWarnings("unchecked")
    public static boolean allSucceeded(Map<String, Object> report) {
        return report.values().stream().allMatch(v -> "succeeded".equals(((Map<String, Object>) v).get("status")));
    }

    /** One line per stream for people, or one JSON object. */
    @SuppressWarnings("unchecked")
    public static void print(PrintWriter out, boolean json, JobFile file, Map<String, Object> report) {
        if (json) {
            out.println(RunSummary.toJson(Map.of("file", file.path().toString(), "status", allSucceeded(report) ? "succeeded" : "failed",
                "streams", report)));
        } else {
            out.println("bronze-jobs: " + (allSucceeded(report) ? "succeeded" : "failed") + " (" + file.path() + ")");
            report.forEach((name, value) -> {
                var entry = (Map<String, Object>) value;
                String detail = entry.containsKey("reason") ? (String) entry.get("reason")
                    : "%.1f s%s".formatted(((Long) entry.get("duration_ms")) / 1000.0, entry.containsKey("error") ? "  " + entry.get("error") : "");
                out.println("  %-24s %-22s %-9s %s".formatted(name, entry.get("datakit"), entry.get("status"), detail));
            });
        }
        out.flush();
    }
}
