package datakit.cdc;

import datakit.config.ConnectionSettings;
import datakit.db.Database;
import datakit.db.Migrations;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.report.Sizes;
import datakit.sql.TableRef;
import java.io.PrintWriter;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What a change stream would do ({@code postgres-cdc --dry-run}), printed instead of doing it: for people,
 * or as one JSON document with {@code --json}, like the other datakits' dry runs. Both databases were only
 * read.
 */
final class CdcDryRun {
    private CdcDryRun() {
    }

    /**
     * The plan of a run: the publication, the slot, the snapshot, the change tables to create and the pending
     * migrations. The slot is checked as the run checks it ({@link SlotStart}), so the dry run fails where the
     * run would.
     */
    static void plan(RunContext run, Database source, Database warehouse, CdcSource src, CdcRequest request, List<TableRef> tables,
                     String bronzeSchema, TableIdentities identities) throws SQLException {
        boolean publicationExists = src.publications().exists(request.publication());
        SlotStart start = SlotStart.decide(src, request, SlotStart.stored(warehouse, bronzeSchema, request.stream()), publicationExists);
        List<String> adds = (publicationExists ? src.publications().missingFrom(request.publication(), request.tables()) : List.<TableRef>of())
            .stream().map(TableRef::toString).toList();
        List<String> names = tables.isEmpty() ? List.of("all tables") : tables.stream().map(TableRef::toString).toList();
        boolean loads = !request.snapshotNever() && start.action() != SlotStart.Action.RESUME;
        warehouse.inTransaction(connection -> {
            StreamTables.refuseWhatTheRunWould(connection, tables, identities::bronze, loads);
            return null;
        });
        List<String> changeTables = warehouse.inTransaction(connection -> ChangeTable.withoutChangeTable(connection, tables, identities::bronze))
            .stream().map(t -> new ChangeTable(t, identities.bronze(t)).ref().toString()).toList();
        // A resumed stream loads a table new to it, and each --resnapshot, from a snapshot that meets its changes (TableSnapshot).
        List<String> tableSnapshots = loads ? List.of() : tableSnapshots(request,
            warehouse.inTransaction(connection -> ChangeTable.withoutChangeTable(connection, tables, identities::bronze)));
        List<String> pending = Migrations.pending(warehouse.dataSource(), bronzeSchema);
        // A resumed --apply stream refreshes the values DDL changed without writing rows since its last run (see ValueRefresh).
        Map<String, List<String>> refreshes = request.apply() && start.action() == SlotStart.Action.RESUME
            ? ValueRefresh.planned(run, source, src, warehouse, bronzeSchema, request.stream()) : Map.of();

        var plan = new LinkedHashMap<String, Object>();
        plan.put("status", "dry-run");
        plan.put("datakit", run.datakit());
        plan.put("source", source.settings().describe());
        plan.put("warehouse", warehouse.settings().describe());
        plan.put("target_schema", bronzeSchema);
        plan.put("tables", names);
        var publication = new LinkedHashMap<String, Object>();
        publication.put("name", request.publication());
        publication.put("action", !publicationExists ? "create" : adds.isEmpty() ? "use" : "add tables");
        if (!adds.isEmpty()) {
            publication.put("adds", adds);
        }
        plan.put("publication", publication);
        var slotPlan = new LinkedHashMap<String, Object>();
        slotPlan.put("name", request.slot());
        slotPlan.put("action", start.action().name().toLowerCase(Locale.ROOT));
        start.slot().ifPresent(s -> slotPlan.put("lag_bytes", s.lagBytes()));
        plan.put("slot", slotPlan);
        start.warning().ifPresent(w -> plan.put("warnings", List.of(w)));
        plan.put("snapshot", loads ? "load the tables from the new slot's snapshot" : "none");
        if (!tableSnapshots.isEmpty()) {
            plan.put("table_snapshots", tableSnapshots);
        }
        plan.put("apply", request.apply());
        plan.put("change_tables", changeTables);
        if (!refreshes.isEmpty()) {
            plan.put("values_changed_without_writes", refreshes);
        }
        plan.put("pending_migrations", pending);
        if (run.json()) {
            print(run, plan);
            return;
        }
        PrintWriter out = run.out();
        out.println(run.datakit() + " --dry-run: nothing was written; the plan is:");
        out.println("  capture     " + String.join(", ", names) + " into " + bronzeSchema);
        out.println("  publication " + request.publication() + switch (publication.get("action").toString()) {
            case "create" -> " (would be created)";
            case "use" -> " (exists)";
            default -> " (exists; would add " + String.join(", ", adds) + ")";
        });
        out.println("  slot        " + request.slot() + switch (start.action()) {
            case CREATE -> " (would be created" + (loads ? ", and the tables loaded from its snapshot)" : ")");
            case RECREATE -> " (would be made again: " + start.why() + (loads ? "; and the tables reloaded from its snapshot)" : ")");
            case RESUME -> " (exists, " + Sizes.bytes(start.slot().orElseThrow().lagBytes()) + " behind)";
        });
        start.warning().ifPresent(w -> out.println("  warning     " + w));
        tableSnapshots.forEach(t -> out.println("  snapshot    " + t));
        out.println("  changes     " + (changeTables.isEmpty() ? "every change table exists" : String.join(", ", changeTables) + " would be created"));
        refreshes.forEach((table, columns) -> out.println("  values      " + table + " would be given the source's values of "
            + String.join(", ", columns.stream().map(TableRef::display).toList()) + " (changed at the source without rows being written)"));
        out.println("  migrations  " + (pending.isEmpty() ? "none pending" : String.join(", ", pending) + " would be applied first"));
        out.flush();
    }

    /** The tables a resumed run would load from a snapshot inside the stream, each with why, in words. */
    private static List<String> tableSnapshots(CdcRequest request, List<TableRef> withoutChangeTable) {
        var snapshots = new ArrayList<String>();
        if (!request.snapshotNever()) {
            withoutChangeTable.forEach(t -> snapshots.add(t + " would be loaded from a snapshot (new to the stream)"));
        }
        request.resnapshot().stream().filter(t -> request.snapshotNever() || !withoutChangeTable.contains(t))
            .forEach(t -> snapshots.add(t + " would be loaded again from a snapshot (--resnapshot" + request.where().map(w -> " --where "
                + w).orElse("") + ")"));
        return snapshots;
    }

    /** The plan of {@code --drop-slot}. */
    static void dropSlot(RunContext run, ConnectionSettings source, CdcRequest request, Optional<CdcSource.Slot> slot,
                         SlotDrop.PublicationFate publication) {
        var plan = new LinkedHashMap<String, Object>();
        plan.put("status", "dry-run");
        plan.put("datakit", run.datakit());
        plan.put("source", source.describe());
        var slotPlan = new LinkedHashMap<String, Object>();
        slotPlan.put("name", request.slot());
        slotPlan.put("action", slot.isPresent() ? "drop" : "none: it does not exist");
        slot.ifPresent(s -> slotPlan.put("retained_wal_bytes", s.retainedBytes()));
        plan.put("slot", slotPlan);
        plan.put("publication", publication.plan());
        plan.put("checkpoint", "delete " + request.stream());
        if (run.json()) {
            print(run, plan);
            return;
        }
        run.out().println("postgres-cdc would drop slot " + slot.map(s -> s.name() + " (it keeps " + Sizes.bytes(s.retainedBytes())
            + " of WAL)").orElse(request.slot() + ": it does not exist") + " and the checkpoint of " + request.stream() + "; publication "
            + publication.words(true));
        run.out().flush();
    }

    private static void print(RunContext run, Map<String, Object> plan) {
        run.out().println(RunSummary.toJson(plan));
        run.out().flush();
    }
}
