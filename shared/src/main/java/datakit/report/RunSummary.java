package datakit.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * What a run did, printed at the end: a few aligned lines for people, or one JSON object with
 * {@code --json} for schedulers. It names the source by host and database only.
 */
public record RunSummary(String status, String datakit, UUID runId, String source, String read, String target,
                         String writeMode, long rows, long bytes, long durationMs, Map<String, Object> details) {
    private static final ObjectMapper JSON = new ObjectMapper();

    long rowsPerSecond() {
        return durationMs > 0 ? rows * 1000 / durationMs : rows;
    }

    /** The JVM's peak heap use so far: the sum of each heap pool's peak. */
    static long peakHeapBytes() {
        return ManagementFactory.getMemoryPoolMXBeans().stream()
            .filter(p -> p.getType() == MemoryType.HEAP)
            .mapToLong(p -> p.getPeakUsage().getUsed())
            .sum();
    }

    public Map<String, Object> asMap() {
        var map = new LinkedHashMap<String, Object>();
        map.put("status", status);
        map.put("datakit", datakit);
        map.put("run_id", runId.toString());
        map.put("source", source);
        map.put("read", read);
        map.put("target", target);
        map.put("write_mode", writeMode);
        map.put("rows", rows);
        map.put("bytes", bytes);
        map.put("duration_ms", durationMs);
        map.put("rows_per_second", rowsPerSecond());
        map.put("peak_heap_bytes", peakHeapBytes());
        map.putAll(details);
        return map;
    }

    /** Prints the summary the run's way, and keeps it for --metrics-file. */
    public void print(RunContext run) {
        print(run.out(), run.json());
        run.outcome().summaries().add(this);
    }

    public void print(PrintWriter out, boolean json) {
        if (json) {
            out.println(toJson(asMap()));
        } else {
            out.println(datakit + ": " + status);
            out.println("  read       " + read + " on " + source);
            out.println("  wrote      " + target + " (" + writeMode + ")");
            out.println("  rows       %,d (%s) in %s, %,d rows/s".formatted(rows, Sizes.bytes(bytes), seconds(durationMs), rowsPerSecond()));
            // child_tables reads "child tables"; a key naming a column ("drift my_payload") keeps the name whole.
            details.forEach((key, value) -> out.println("  %-10s %s".formatted((key.contains(" ") ? key : key.replace('_', ' '))
                + (key.length() > 10 ? ":" : ""), human(value))));
            out.println("  peak heap  " + Sizes.bytes(peakHeapBytes()));
            out.println("  run id     " + runId);
        }
        out.flush();
    }

    /** A detail for people: lists joined by commas, maps as "key: value; ...", an empty list as "none". */
    static String human(Object value) {
        if (value instanceof Map<?, ?> map) {
            return map.entrySet().stream().map(e -> e.getKey() + ": " + human(e.getValue()))
                .collect(Collectors.joining("; "));
        }
        if (value instanceof Collection<?> list) {
            return list.isEmpty() ? "none" : list.stream().map(RunSummary::human).collect(Collectors.joining(", "));
        }
        return String.valueOf(value);
    }

    static String seconds(long ms) {
        return String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
    }

    public static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
