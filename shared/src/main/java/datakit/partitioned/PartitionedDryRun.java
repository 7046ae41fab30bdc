package datakit.partitioned;

import datakit.bookkeeping.RunLog;
import datakit.bronze.BronzeParts;
import datakit.bronze.BronzeTable;
import datakit.checkpoint.PartStore;
import datakit.db.Database;
import datakit.db.Migrations;
import datakit.db.SqlErrors;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.source.Part;
import datakit.source.PartitionedSource;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;

/**
 * What a partitioned run would do, printed instead ({@code --dry-run}): the parts with their bounds,
 * estimated rows and shard, and what would become of each (copied, kept because unchanged, or already
 * staged by an unfinished load that this run would resume). Both databases are only read.
 */
final class PartitionedDryRun {
    private final RunContext run;
    private final Database source;
    private final Database warehouse;
    private final SourceSession session;

    PartitionedDryRun(RunContext run, Database source, Database warehouse, SourceSession session) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
        this.session = session;
    }

    private record Row(Part part, int shard, String action) {
    }

    void print(PartitionedPlan plan, TableRef target, PartitionedLoad how, BronzeParts bronze, String fingerprint) {
        try {
            warehouse.inTransaction(connection -> {
                print(connection, plan, target, how, bronze, fingerprint);
                return null;
            });
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Inspecting the warehouse " + warehouse.settings().describe(), e, warehouse);
        }
    }

    private void print(Connection connection, PartitionedPlan plan, TableRef target, PartitionedLoad how, BronzeParts bronze,
                       String fingerprint) {
        DSLContext db = Sql.using(connection);
        var runs = new RunLog(target.schema());
        SharedLoad.refuseWhatTheRunWould(connection, plan, bronze, target, runs);
        runs.sayRename(run, new LinkedHashMap<>());
        var store = new PartStore(target.schema());
        String stream = target.toString();
        Optional<PartStore.Load> current = store.load(connection, stream);
        Map<String, PartStore.PartRecord> records = store.parts(connection, stream);
        // A load of block ranges is never resumed by another run (SharedLoad.join).
        Optional<PartStore.Load> resumable = current.filter(l -> !l.published() && !how.restart() && l.fingerprint().equals(fingerprint)
            && SharedLoad.sameParts(l, plan.parts()) && plan.parts().stream().noneMatch(Part::byBlocks));
        String published = current.map(PartStore.Load::bronzeFingerprint).orElse("");
        boolean keep = how.keepUnchanged() && plan.keeps(published, fingerprint, source.settings().describe(), how.layout(),
            runs.renamedFrom());
        Optional<String> schemaChange = SharedLoad.schemaChange(published, current.map(PartStore.Load::bronzeSourceSchema).orElse(null),
            fingerprint, plan, how);
        var planned = resumable.filter(l -> l.shards() == how.shard().count()).map(PartStore.Load::parts)
            .orElse(SharedLoad.assign(plan.parts(), how.shard().count()));
        var src = new PartitionedSource(session, plan.read());
        var rows = new ArrayList<Row>();
        for (int i = 0; i < plan.parts().size(); i++) {
            Part part = plan.parts().get(i);
            int shard = planned.get(i).shard();
            PartStore.PartRecord record = records.getOrDefault(part.name(), new PartStore.PartRecord(null, null));
            String action = shard != how.shard().index() ? "shard " + shard + "/" + how.shard().count() + " copies it"
                : resumable.flatMap(l -> record.stagedIn(l.id())).isPresent() ? "staged already (resumed)"
                : keep && record.publishedCopy().filter(c -> bronze.holds(db, c.ref()) && src.unchangedSince(part,
                    new PartitionedSource.EarlierCopy(c.oid(), c.bounds(), c.rows(), c.horizon()))).isPresent()
                ? "keep (unchanged since run " + record.published().runId() + ")"
                : "copy";
            rows.add(new Row(part, shard, action));
        }
        String load = resumable.map(l -> "resumes the load begun by run " + l.startedBy())
            .orElse(current.filter(l -> !l.published()).isPresent() ? "gives up the unfinished load and starts a new one" : "a new load");
        String action = BronzeTable.inspect(db, target).isPresent() ? "replaced atomically" : "created";
        print(plan, target, how, src, rows, load, schemaChange, bronze.planned(db), runs.renamedFrom(), action,
            Migrations.pending(warehouse.dataSource(), target.schema()));
    }

    private void print(PartitionedPlan plan, TableRef target, PartitionedLoad how, PartitionedSource src, List<Row> rows, String load,
                       Optional<String> schemaChange, List<BronzeParts.Recorded> columnChanges, Optional<String> renamedFrom, String action,
                       List<String> pendingMigrations) {
        PrintWriter out = run.out();
        if (run.json()) {
            var map = new LinkedHashMap<String, Object>();
            map.put("status", "dry-run");
            map.put("datakit", run.datakit());
            map.put("source", source.settings().describe());
            map.put("read", plan.read().describe());
            map.put("estimated_rows", plan.estimatedRows());
            map.put("warehouse", warehouse.settings().describe());
            map.put("target", target.toString());
            map.put("layout", how.layout().label());
            map.put("load", load);
            schemaChange.ifPresent(why -> map.put("schema_change", why));
            map.put("schema_changes", columnChanges.stream().flatMap(r -> r.changes().stream().map(c -> {
                var change = new LinkedHashMap<String, Object>(Map.of("table", r.table().toString()));
                change.putAll(c.toDetails());
                return change;
            })).toList());
            renamedFrom.ifPresent(from -> map.put("renamed_from", from));
            map.put("shard", how.shard().toString());
            map.put("parallelism", how.parallelism());
            map.put("pending_migrations", pendingMigrations);
            map.put("parts", rows.stream().map(r -> {
                var part = new LinkedHashMap<String, Object>();
                part.put("name", r.part().name());
                part.put("bounds", r.part().bounds());
                part.put("estimated_rows", r.part().estimatedRows());
                part.put("shard", r.shard());
                part.put("action", r.action());
                part.put("source_sql", src.copySql(r.part()));
                return part;
            }).toList());
            out.println(RunSummary.toJson(map));
        } else {
            out.println(run.datakit() + " --dry-run: nothing was written; the plan is:");
            out.println("  source      " + source.settings().describe() + " (read-only, one exported snapshot)");
            out.println("  read        %s, %d parts, %d columns, ~%,d rows (catalog estimate)".formatted(plan.read().describe(),
                plan.parts().size(), plan.read().columns().size(), plan.estimatedRows()));
            out.println("  target      " + target + " on " + warehouse.settings().describe() + ", layout " + how.layout().label()
                + ", would be " + action);
            out.println("  load        " + load + "; shard " + how.shard() + ", " + how.parallelism() + " workers");
            schemaChange.ifPresent(why -> out.println("  schema      " + why));
            columnChanges.forEach(r -> r.changes().forEach(c -> out.println("  schema      " + r.table() + ": " + c.describe())));
            renamedFrom.ifPresent(from -> out.println("  renamed     from " + from + ": the stream goes on under the new name"));
            out.println("  migrations  " + (pendingMigrations.isEmpty() ? "none pending" : String.join(", ", pendingMigrations) + " would be applied first"));
            if (!rows.isEmpty()) {
                out.println("  source SQL  " + src.copySql(rows.get(0).part()) + (rows.size() > 1 ? "  (and likewise for each part)" : ""));
            }
            out.println("  parts");
            int width = rows.stream().mapToInt(r -> r.part().name().length()).max().orElse(4);
            for (Row r : rows) {
                out.println(("    %-" + width + "s  %12s  %s  [%s]").formatted(r.part().name(),
                    r.part().estimatedRows() >= 0 ? "~%,d rows".formatted(r.part().estimatedRows()) : "rows unknown", r.action(), r.part().bounds()));
            }
        }
        out.flush();
    }
}
