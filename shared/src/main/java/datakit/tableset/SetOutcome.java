package datakit.tableset;

import datakit.bookkeeping.SetRunLog;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.report.Sizes;
import datakit.source.TableSet;
import datakit.sql.TablePattern;
import datakit.sql.TableRef;
import java.io.PrintWriter;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * What a run over a set of tables did, table by table, and its one summary: a few aligned lines with a line per table for
 * people, or one JSON object ({@code --json}) whose {@code tables} holds each table's own summary. Each table's summary also
 * goes to the run's outcome, so metrics and lineage name every table.
 */
final class SetOutcome {
    /** One table's end: loaded (its summary), failed (its error) or not started. */
    record TableResult(TableRef table, TableRef target, String status, Optional<RunSummary> summary, Optional<UUID> runId,
                       Optional<String> error, long durationMs) {
        Map<String, Object> asMap(Map<String, Object> how) {
            var map = new LinkedHashMap<String, Object>();
            map.put("table", table.toString());
            map.put("target", target.toString());
            map.put("status", status);
            map.putAll(how);
            summary.ifPresentOrElse(s -> {
                Map<String, Object> own = new LinkedHashMap<>(s.asMap());
                own.keySet().removeAll(List.of("status", "datakit", "source", "read", "target", "peak_heap_bytes"));
                map.putAll(own);
            }, () -> {
                runId.ifPresent(id -> map.put("run_id", id.toString()));
                map.put("rows", 0L);
                map.put("bytes", 0L);
                map.put("duration_ms", durationMs);
            });
            error.ifPresent(e -> map.put("error", e));
            return map;
        }
    }

    private final RunContext run;
    private final TableSetRun.Request request;
    private final TableSet.Resolved resolved;
    private final List<SetRunLog.Loaded> kept;
    private final List<String> vanished;
    private final Function<TableRef, Map<String, Object>> how;
    private final Map<TableRef, TableResult> results = new ConcurrentHashMap<>();

    /** {@code how} says how each table is loaded (its cursor, say), in its entry of the summary. */
    SetOutcome(RunContext run, TableSetRun.Request request, TableSet.Resolved resolved, List<SetRunLog.Loaded> kept, List<String> vanished,
               Function<TableRef, Map<String, Object>> how) {
        this.run = run;
        this.how = how;
        this.request = request;
        this.resolved = resolved;
        this.kept = List.copyOf(kept);
        this.vanished = List.copyOf(vanished);
    }

    TableSetRun.Request request() {
        return request;
    }

    void loaded(TableRef table, TableRef target, RunSummary summary) {
        results.put(table, new TableResult(table, target, "succeeded", Optional.of(summary), Optional.of(summary.runId()), Optional.empty(),
            summary.durationMs()));
        run.outcome().summaries().add(summary);
    }

    void planned(TableRef table, TableRef target) {
        results.put(table, new TableResult(table, target, "planned", Optional.empty(), Optional.empty(), Optional.empty(), 0));
    }

    void failed(TableRef table, TableRef target, UUID runId, String error, long durationMs) {
        results.put(table, new TableResult(table, target, "failed", Optional.empty(), Optional.of(runId), Optional.of(error), durationMs));
        // Metrics and lineage show the table failed, as a run of it alone would.
        run.outcome().summaries().add(new RunSummary("failed", run.datakit(), runId, "", table.toString(), target.toString(),
            request.writeMode(), 0, 0, durationMs, Map.of()));
    }

    void notStarted(TableRef table, TableRef target, String why) {
        results.put(table, new TableResult(table, target, "failed", Optional.empty(), Optional.empty(), Optional.of(why), 0));
        run.outcome().summaries().add(new RunSummary("failed", run.datakit(), UUID.randomUUID(), "", table.toString(), target.toString(),
            request.writeMode(), 0, 0, 0, Map.of()));
    }

    boolean failed(TableRef table) {
        return Optional.ofNullable(results.get(table)).filter(r -> r.status().equals("failed")).isPresent();
    }

    List<TableResult> failures() {
        return ordered().stream().filter(r -> r.status().equals("failed")).toList();
    }

    private List<TableResult> ordered() {
        return results.values().stream().sorted(Comparator.comparing(r -> r.table().toString())).toList();
    }

    /** What table_set_runs keeps of the run beside its tables: the patterns and what they did not select. */
    Map<String, Object> setDetails() {
        var details = new LinkedHashMap<String, Object>();
        details.put("patterns", request.patterns());
        notes(details);
        return details;
    }

    /** The patterns that selected nothing, the excludes that left nothing out, the tables gone since the last run. */
    private void notes(Map<String, Object> details) {
        if (!resolved.unmatched().isEmpty()) {
            details.put("unmatched", resolved.unmatched().stream().map(m -> m.describe(request.set().kinds())).toList());
        }
        if (!resolved.unusedExcludes().isEmpty()) {
            details.put("unused_excludes", resolved.unusedExcludes().stream().map(TablePattern::toString).toList());
        }
        if (!vanished.isEmpty()) {
            details.put("vanished", vanished);
        }
    }

    /** Prints the summary the run's way. */
    void print(RunContext run, String source, long durationMs) {
        List<TableResult> all = ordered();
        long rows = all.stream().flatMap(r -> r.summary().stream()).mapToLong(RunSummary::rows).sum();
        long bytes = all.stream().flatMap(r -> r.summary().stream()).mapToLong(RunSummary::bytes).sum();
        String status = run.dryRun() ? "dry run" : failures().isEmpty() ? "succeeded" : "failed";
        var details = new LinkedHashMap<String, Object>();
        details.put("consistent", request.oneSnapshot() && kept.isEmpty());
        details.put("tables", all.stream().map(r -> r.asMap(how.apply(r.table()))).toList());
        details.put("failed", failures().stream().map(r -> r.table().toString()).toList());
        if (!kept.isEmpty()) {
            details.put("kept", kept.stream().map(k -> Map.of("table", k.table(), "run_id", k.runId().toString(),
                "loaded_by", k.loadedBy().toString())).toList());
        }
        notes(details);
        var summary = new RunSummary(status, run.datakit(), run.runId(), source, request.patterns(), request.bronzeSchema(),
            request.writeMode(), rows, bytes, durationMs, details);
        if (run.json()) {
            summary.print(run.out(), true);
            return;
        }
        printForPeople(run.out(), summary, all);
    }

    private void printForPeople(PrintWriter out, RunSummary summary, List<TableResult> all) {
        long loaded = all.stream().filter(r -> r.status().equals("succeeded")).count();
        out.println(summary.datakit() + ": " + summary.status());
        out.println("  read       %s on %s, %s".formatted(request.patterns(), summary.source(), request.oneSnapshot()
            ? kept.isEmpty() ? "in one snapshot" : "in this run's snapshot and, for kept tables, the one of the run it completes"
            : "each table on its own"));
        out.println("  wrote      " + request.bronzeSchema() + " (" + request.writeMode() + "), a table per source table");
        out.println("  tables     %d: %d %s, %d failed%s".formatted(all.size() + kept.size(), run.dryRun() ? all.size() - failures().size()
            : loaded, run.dryRun() ? "planned" : "loaded", failures().size(), kept.isEmpty() ? "" : ", " + kept.size() + " kept"));
        if (!run.dryRun()) {
            out.println("  rows       %,d (%s) in %s".formatted(summary.rows(), Sizes.bytes(summary.bytes()),
                String.format(Locale.ROOT, "%.1f s", summary.durationMs() / 1000.0)));
        }
        int width = all.stream().mapToInt(r -> r.table().toString().length()).max().orElse(0);
        for (TableResult r : all) {
            String what = howForPeople(r.table()) + r.summary().map(s -> "%,d rows, %s, %s".formatted(s.rows(), Sizes.bytes(s.bytes()),
                    String.format(Locale.ROOT, "%.1f s", s.durationMs() / 1000.0)))
                .orElse(r.error().map(e -> "FAILED: " + e).orElse(r.status()));
            out.println(String.format("    %-" + width + "s -> %s  %s", r.table(), r.target(), what));
        }
        kept.forEach(k -> out.println("    %s  kept, loaded by run %s".formatted(k.table(), k.loadedBy())));
        for (TableResult r : all) {
            if (how.apply(r.table()).get("notes") instanceof List<?> notes) {
                notes.forEach(note -> out.println("  note       " + r.table() + ": " + note));
            }
        }
        resolved.unmatched().forEach(m -> out.println("  unmatched  " + m.describe(request.set().kinds())));
        resolved.unusedExcludes().forEach(p -> out.println("  unused     " + p + " excluded nothing"));
        if (!vanished.isEmpty()) {
            out.println("  vanished   " + String.join(", ", vanished) + " (loaded by the set's last run, selected no more; their bronze "
                + "tables are kept)");
        }
        out.println("  run id     " + summary.runId());
        out.flush();
    }

    /** How a table is loaded, for its line: "cursor updated_at, ", "sync mode xmin, "; a "load" says it all by itself. */
    private String howForPeople(TableRef table) {
        Map<String, Object> said = how.apply(table);
        return said.entrySet().stream().filter(e -> !e.getKey().equals("notes")).map(e -> e.getKey().equals("load") ? String.valueOf(e.getValue())
            : e.getKey().replace('_', ' ') + " " + e.getValue()).map(text -> text + ", ").collect(Collectors.joining());
    }
}
