package datakit.run;

import datakit.bronze.BronzeLoad;
import datakit.bronze.WriteMode;
import datakit.db.Database;
import datakit.source.ReadPlan;
import datakit.source.SourceColumn;
import datakit.sql.TableRef;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;

/**
 * What a run would do, printed instead of doing it ({@code --dry-run}): the source SQL, the row
 * estimate, the bronze table's DDL and the migrations pending. Both databases were only read.
 */
final class DryRun {
    private final RunContext run;
    private final Database source;
    private final Database warehouse;
    private final ReadPlan plan;
    private final TableRef target;
    private final WriteMode mode;

    DryRun(RunContext run, Database source, Database warehouse, ReadPlan plan, TableRef target, WriteMode mode) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
        this.plan = plan;
        this.target = target;
        this.mode = mode;
    }

    void print(BronzeLoad load, List<String> pendingMigrations) {
        String action = load.existing().isEmpty() ? "created"
            : mode == WriteMode.REPLACE ? "replaced atomically" : "appended to";
        List<String> typeNotes = plan.columns().stream()
            .flatMap(c -> c.note().map(n -> TableRef.display(c.name()) + ": " + n).stream()).toList();
        List<String> beforeCopy = load.existing().isPresent() ? load.preparation() : List.of();
        PrintWriter out = run.out();
        if (run.json()) {
            var map = new LinkedHashMap<String, Object>();
            map.put("status", "dry-run");
            map.put("datakit", run.datakit());
            map.put("source", source.settings().describe());
            map.put("read", plan.describe());
            map.put("source_sql", plan.copySql());
            map.put("estimated_rows", plan.estimatedRows());
            map.put("columns", plan.columns().stream().map(DryRun::column).toList());
            map.put("warehouse", warehouse.settings().describe());
            map.put("target", target.toString());
            map.put("write_mode", mode.label());
            map.put("target_exists", load.existing().isPresent());
            map.put("target_ddl", load.tableDefinition());
            map.put("statements_before_copy", beforeCopy);
            map.put("pending_migrations", pendingMigrations);
            out.println(RunSummary.toJson(map));
        } else {
            out.println(run.datakit() + " --dry-run: nothing was written; the plan is:");
            out.println("  source      " + source.settings().describe() + " (read-only)");
            out.println("  read        " + plan.describe() + ", " + plan.columns().size() + " columns, "
                + (plan.estimatedRows() >= 0 ? "~%,d rows (planner estimate)".formatted(plan.estimatedRows()) : "row count unknown"));
            out.println("  source SQL  " + plan.copySql());
            out.println("  target      " + target + " on " + warehouse.settings().describe() + ", would be " + action + " (" + mode.label() + ")");
            out.println("  migrations  " + (pendingMigrations.isEmpty() ? "none pending" : String.join(", ", pendingMigrations) + " would be applied first"));
            typeNotes.forEach(n -> out.println("  type        " + n));
            beforeCopy.forEach(s -> out.println("  before COPY " + s));
            out.println("  target DDL");
            load.tableDefinition().lines().forEach(l -> out.println("    " + l));
        }
        out.flush();
    }

    private static LinkedHashMap<String, Object> column(SourceColumn c) {
        var map = new LinkedHashMap<String, Object>();
        map.put("name", c.name());
        map.put("source_type", c.sourceType());
        map.put("bronze_type", c.bronzeType());
        Optional<String> note = c.note();
        note.ifPresent(n -> map.put("note", n));
        return map;
    }
}
