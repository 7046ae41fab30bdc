package datakit.run;

import datakit.bronze.BronzeLoad;
import datakit.bronze.SchemaChange;
import datakit.bronze.WriteMode;
import datakit.config.ConnectionSettings;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.source.ReadPlan;
import datakit.source.SourceColumn;
import datakit.sql.TableRef;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a run would do, printed instead of doing it ({@code --dry-run}): the source SQL, the row
 * estimate, the bronze table's DDL and the migrations pending. Both databases were only read.
 */
public final class DryRun {
    /** A string literal longer than this many characters is cut to its first {@link #SHOWN}. */
    private static final int LONG_LITERAL = 200;
    private static final int SHOWN = 60;

    private DryRun() {
    }

    public static void print(RunContext run, ConnectionSettings source, ConnectionSettings warehouse, ReadPlan plan, TableRef target,
                      WriteMode mode, BronzeLoad load, List<String> pendingMigrations) {
        print(run, source, warehouse, plan, target, mode, load, pendingMigrations, Map.of());
    }

    /** @param extras mode-specific lines (an incremental run's checkpoint), printed after the read */
    public static void print(RunContext run, ConnectionSettings source, ConnectionSettings warehouse, ReadPlan plan, TableRef target,
                      WriteMode mode, BronzeLoad load, List<String> pendingMigrations, Map<String, String> extras) {
        String action = load.existing().isEmpty() ? "created"
            : mode == WriteMode.REPLACE ? "replaced atomically" : "appended to";
        List<String> typeNotes = plan.columns().stream()
            .flatMap(c -> c.note().map(n -> TableRef.display(c.name()) + ": " + n).stream()).toList();
        List<SchemaChange> changes = load.evolution().changes();
        List<String> statements = load.schemaChanges();
        PrintWriter out = run.out();
        if (run.json()) {
            var map = new LinkedHashMap<String, Object>();
            map.put("status", "dry-run");
            map.put("datakit", run.datakit());
            map.put("source", source.describe());
            map.put("read", plan.describe());
            extras.forEach((key, value) -> map.put(key.replace(' ', '_'), value));
            map.put("source_sql", plan.copySql());
            map.put("estimated_rows", plan.estimatedRows());
            map.put("columns", plan.columns().stream().map(DryRun::column).toList());
            map.put("warehouse", warehouse.describe());
            map.put("target", target.toString());
            map.put("write_mode", mode.label());
            map.put("target_exists", load.existing().isPresent());
            map.put("target_ddl", load.tableDefinition());
            map.put("schema_changes", changes.stream().map(SchemaChange::toDetails).toList());
            map.put("schema_statements", statements);
            map.put("pending_migrations", pendingMigrations);
            out.println(RunSummary.toJson(map));
        } else {
            out.println(run.datakit() + " --dry-run: nothing was written; the plan is:");
            out.println("  source      " + source.describe() + " (read-only)");
            out.println("  read        " + plan.describe() + ", " + plan.columns().size() + " columns, "
                + (plan.estimatedRows() >= 0 ? "~%,d rows (planner estimate)".formatted(plan.estimatedRows()) : "row count unknown"));
            extras.forEach((key, value) -> out.println("  %-11s %s".formatted(key, value)));
            out.println("  source SQL  " + abbreviated(plan.copySql()));
            out.println("  target      " + target + " on " + warehouse.describe() + ", would be " + action + " (" + mode.label() + ")");
            out.println("  migrations  " + (pendingMigrations.isEmpty() ? "none pending" : String.join(", ", pendingMigrations) + " would be applied first"));
            typeNotes.forEach(n -> out.println("  type        " + n));
            changes.forEach(c -> out.println("  schema      " + c.describe()));
            statements.forEach(s -> out.println("  would run   " + s));
            out.println("  target DDL");
            load.tableDefinition().lines().forEach(l -> out.println("    " + l));
        }
        out.flush();
    }

    /**
     * The SQL with each long literal cut short (xmin mode's list of the transactions the last run saw can hold thousands of
     * ids), for people; --json keeps it whole.
     */
    static String abbreviated(String sql) {
        var out = new StringBuilder();
        int copied = 0;
        for (int at = sql.indexOf('\''); at >= 0; at = sql.indexOf('\'', copied)) {
            int end = at + 1;
            while (end < sql.length() && (sql.charAt(end) != '\'' || end + 1 < sql.length() && sql.charAt(end + 1) == '\'')) {
                end += sql.charAt(end) == '\'' ? 2 : 1;
            }
            end = Math.min(end + 1, sql.length());
            out.append(sql, copied, at);
            out.append(end - at <= LONG_LITERAL ? sql.substring(at, end)
                : sql.substring(at, at + SHOWN) + "…' /* %,d characters */".formatted(end - at));
            copied = end;
        }
        return out.append(sql.substring(copied)).toString();
    }

    private static LinkedHashMap<String, Object> column(SourceColumn c) {
        var map = new LinkedHashMap<String, Object>();
        map.put("name", c.name());
        map.put("source_type", c.sourceType());
        map.put("bronze_type", c.bronzeType());
        c.note().ifPresent(n -> map.put("note", n));
        return map;
    }
}
