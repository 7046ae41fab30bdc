package datakit.ops;

import datakit.error.ExitCode;
import datakit.report.RunSummary;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The report of {@code postgres-health}: each database checked, and an overall status:
 * {@code healthy}, {@code degraded} (warnings) or {@code unhealthy} (problems), as one JSON object or
 * as lines for people. Unhealthy exits 1, so the check can serve as a liveness probe; degraded exits 0,
 * or 1 with {@code --strict}.
 */
public record HealthReport(List<Health> checked) {

    public String status() {
        if (checked.stream().anyMatch(h -> !h.unhealthy().isEmpty())) {
            return "unhealthy";
        }
        return checked.stream().anyMatch(h -> !h.warnings().isEmpty()) ? "degraded" : "healthy";
    }

    public ExitCode exitCode(boolean strict) {
        return switch (status()) {
            case "unhealthy" -> ExitCode.FAILED;
            case "degraded" -> strict ? ExitCode.FAILED : ExitCode.OK;
            default -> ExitCode.OK;
        };
    }

    Map<String, Object> asMap(Map<String, Health> byRole) {
        var map = new LinkedHashMap<String, Object>();
        map.put("status", status());
        byRole.forEach((role, health) -> map.put(role, health.report()));
        map.put("problems", all(Health::unhealthy));
        map.put("warnings", all(Health::warnings));
        return map;
    }

    private List<String> all(java.util.function.Function<Health, List<String>> which) {
        var all = new ArrayList<String>();
        checked.forEach(h -> all.addAll(which.apply(h)));
        return all;
    }

    /** Prints the report: JSON, or a few lines per database for people. */
    public void print(PrintWriter out, boolean json, Map<String, Health> byRole) {
        if (json) {
            out.println(RunSummary.toJson(asMap(byRole)));
            out.flush();
            return;
        }
        out.println("postgres-health: " + status());
        byRole.forEach((role, health) -> {
            out.println(role);
            health.report().forEach((key, value) -> {
                if (value instanceof Collection<?> rows) {
                    out.println("  %-22s %s".formatted(key.replace('_', ' '), rows.isEmpty() ? "none" : ""));
                    rows.forEach(row -> out.println("    " + (row instanceof Map<?, ?> fields ? line(fields) : row)));
                } else if (value instanceof Map<?, ?> fields) {
                    out.println("  %-22s %s".formatted(key.replace('_', ' '), line(fields)));
                } else {
                    out.println("  %-22s %s".formatted(key.replace('_', ' '), value));
                }
            });
        });
        all(Health::unhealthy).forEach(p -> out.println("PROBLEM: " + p));
        all(Health::warnings).forEach(w -> out.println("WARNING: " + w));
        out.flush();
    }

    private static String line(Map<?, ?> fields) {
        var parts = new ArrayList<String>();
        fields.forEach((k, v) -> parts.add(k + "=" + v));
        return String.join(", ", parts);
    }
}
