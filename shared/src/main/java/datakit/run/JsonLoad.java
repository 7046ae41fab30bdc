package datakit.run;

import datakit.bronze.BronzeLoad;
import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
import datakit.bronze.BronzeWrite;
import datakit.bronze.Landing;
import datakit.bronze.SchemaEvolution;
import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.json.Flattening;
import datakit.json.KeyProfile;
import datakit.json.KeyProfiles;
import datakit.report.KeyProfileTable;
import datakit.report.RunContext;
import datakit.source.ReadPlan;
import datakit.source.Selection;
import datakit.source.SourceSession;
import datakit.sql.Identifiers;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jooq.exception.DataAccessException;

/**
 * What a load does for JSON beyond its copy, the same in full and incremental loads: flattened keys land in the columns the
 * bronze table has for them while those hold the sampled types, the child tables of {@code --explode} load in the parent's
 * transaction from its snapshot, the values set aside in {@code _bronze_rejects} are counted, and the key profiles of
 * {@code --profile} are saved with their drift. What a load's transaction did counts for the run once that transaction commits ({@link #committed()}); the run's
 * summary then shows it ({@link #addTo}, {@link #printAfterSummary()}).
 */
public final class JsonLoad {
    private final RunContext run;
    private final TableRef target;
    private final boolean addsToTable;
    private final Map<String, Long> childRows = new LinkedHashMap<>();
    private final Map<String, Long> rejected = new LinkedHashMap<>();
    private final Map<String, KeyProfiles.Drift> drifts = new LinkedHashMap<>();
    private final List<KeyProfile> profiles = new ArrayList<>();
    private Finished pending = Finished.NOTHING;

    /** What one finished load did for JSON, in a transaction not yet committed. */
    private record Finished(Map<String, Long> childRows, Map<String, Long> rejected, List<KeyProfile> profiles,
                            Map<String, KeyProfiles.Drift> drifts) {
        static final Finished NOTHING = new Finished(Map.of(), Map.of(), List.of(), Map.of());
    }

    /**
     * @param target      the bronze table the load lands in
     * @param addsToTable whether the load adds rows to the bronze table as it is, rather than building it anew (replace, a
     *                    full refresh): its flattened keys then land in the table's columns that hold their sampled types
     */
    public JsonLoad(RunContext run, TableRef target, boolean addsToTable) {
        this.run = run;
        this.target = target;
        this.addsToTable = addsToTable;
    }

    /**
     * {@code selection} with its flattened keys landing in the columns the bronze table already has for them, where those
     * hold the types the sample finds (see {@link datakit.json.Flattening}); a key whose type changed lands as the sample
     * gives it, and the bronze load follows the change ({@link SchemaEvolution}).
     */
    public Selection keepingBronzeTypes(Connection transaction, Selection selection) {
        if (!addsToTable || selection.flatten().isEmpty()) {
            return selection;
        }
        return BronzeTable.inspect(Sql.using(transaction), target).map(t -> selection.flatten(selection.flatten().keeping(kept(t.columns()))))
            .orElse(selection);
    }

    /** Each bronze column with its type and its variant columns of the flattening rule's types, which a key's values may land in. */
    private static Map<String, Flattening.BronzeColumn> kept(Map<String, String> columns) {
        var kept = new LinkedHashMap<String, Flattening.BronzeColumn>();
        columns.forEach((name, type) -> {
            var variants = new LinkedHashMap<String, String>();
            Flattening.TYPES.forEach(t -> Optional.of(SchemaEvolution.variantName(name, t)).filter(v -> t.equals(columns.get(v)))
                .ifPresent(v -> variants.put(t, v)));
            kept.put(name, new Flattening.BronzeColumn(type, variants));
        });
        return kept;
    }

    /** {@link #keepingBronzeTypes(Connection, Selection)}, reading the bronze table in a transaction of its own when it must. */
    public Selection keepingBronzeTypes(Database warehouse, Selection selection) {
        if (!addsToTable || selection.flatten().isEmpty()) {
            return selection;
        }
        try {
            return warehouse.inTransaction(connection -> keepingBronzeTypes(connection, selection));
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Inspecting the warehouse " + warehouse.settings().describe(), e, warehouse);
        }
    }

    /** The child tables of {@code plan}, for the run's record: a later load of one of them as a stream of its own is refused. */
    public List<String> childTables(ReadPlan plan) {
        return plan.children().stream().map(c -> childTarget(c).toString()).toList();
    }

    /** The loads of {@code plan}'s child tables, in the parent's transaction; each is checked to make a bronze table. */
    public Children children(Connection transaction, ReadPlan plan, BronzeWrite write, BronzeMetadata metadata) {
        return new Children(plan.children().stream().map(child -> {
            TableRef table = childTarget(child);
            Landing landing = Landings.of(child.plan());
            BronzeLoad.checkNames(landing, table);
            return new Child(child.plan(), table, new BronzeLoad(Sql.using(transaction), landing, table, write, metadata));
        }).toList());
    }

    /** {@code bronze.orders__tags}: the parent's name, two underscores, the exploded column's (cut to fit, with a hash). */
    private TableRef childTarget(ReadPlan.Child child) {
        return target.withTable(Identifiers.fit(target.table() + "__" + child.suffix()));
    }

    /**
     * The key profiles {@code --profile} asks for, counted in the session's snapshot before the copy (so they describe
     * exactly the rows copied); none without it.
     */
    public List<KeyProfile> profiles(SourceSession session, ReadPlan plan) {
        return plan.selection().profile() ? session.profileJson(plan) : List.of();
    }

    /** After a load without child tables or profiles finished: what it set aside, counted once its transaction commits. */
    public void finished(BronzeLoad load) {
        pending = new Finished(Map.of(), load.rejected(), List.of(), Map.of());
    }

    /**
     * After the parent's load finished, in its transaction: its child tables put in place, its profiles saved with their
     * drift since the stream's last ones; all of it, and what the loads set aside, counted once the transaction commits.
     */
    public void finished(Connection transaction, BronzeLoad load, Children children, List<KeyProfile> profiled) {
        Map<String, Long> rows = children.finish();
        var saved = new KeyProfiles(target.schema()).save(transaction, target.toString(), run.runId(), profiled);
        var set = new LinkedHashMap<>(load.rejected());
        set.putAll(children.rejected());
        pending = new Finished(rows, set, profiled, saved);
    }

    /** The last finished load's transaction committed: what it did counts for the run. */
    public void committed() {
        pending.childRows().forEach((table, rows) -> childRows.merge(table, rows, Long::sum));
        pending.rejected().forEach((column, count) -> rejected.merge(column, count, Long::sum));
        profiles.addAll(pending.profiles());
        drifts.putAll(pending.drifts());
        dropPending();
    }

    /** The last finished load's transaction rolled back: nothing it did counts. */
    public void dropPending() {
        pending = Finished.NOTHING;
    }

    /**
     * What the committed loads add to the run's summary details (and its --json): rows per child table, values set aside
     * per column, each profiled column's drift, and with --json the profiles themselves. Called again as more commits, a
     * detail keeps the place it first took.
     */
    public void addTo(Map<String, Object> details) {
        addTo(details, Finished.NOTHING);
    }

    /** As {@link #addTo}, counting the pending load too: for a run's success recorded in that load's own transaction. */
    public void addWithPendingTo(Map<String, Object> details) {
        addTo(details, pending);
    }

    private void addTo(Map<String, Object> details, Finished more) {
        Map<String, Long> rows = summed(childRows, more.childRows());
        if (!rows.isEmpty()) {
            details.put("child_tables", rows);
        }
        Map<String, Long> set = summed(rejected, more.rejected());
        if (!set.isEmpty()) {
            details.put("rejected", set);
        }
        var driftsNow = new LinkedHashMap<>(drifts);
        driftsNow.putAll(more.drifts());
        driftsNow.forEach((column, drift) -> details.put("drift " + column, drift.describe()));
        if (run.json()) {
            Stream.concat(profiles.stream(), more.profiles().stream()).forEach(p -> {
                // In this order in every run: Map.of's order may change from one JVM to the next.
                var profile = new LinkedHashMap<String, Object>();
                profile.put("documents", p.documents());
                profile.put("keys", p.describe());
                details.put("profile " + p.column(), profile);
            });
        }
    }

    private static Map<String, Long> summed(Map<String, Long> counted, Map<String, Long> more) {
        var sum = new LinkedHashMap<>(counted);
        more.forEach((key, count) -> sum.merge(key, count, Long::sum));
        return sum;
    }

    /** For people (without --json), the key profiles as tables after the summary. */
    public void printAfterSummary() {
        if (!run.json()) {
            profiles.forEach(p -> KeyProfileTable.print(run.out(), p));
        }
    }

    private record Child(ReadPlan plan, TableRef target, BronzeLoad load) {
    }

    /** The loads of a plan's child tables ({@code --explode}): in the parent's transaction, from its snapshot. */
    public static final class Children {
        private final List<Child> loads;
        private final Map<String, Long> rows = new LinkedHashMap<>();

        private Children(List<Child> loads) {
            this.loads = loads;
        }

        /** Each child table with its load, in the plan's order. */
        public Map<TableRef, BronzeLoad> loads() {
            var all = new LinkedHashMap<TableRef, BronzeLoad>();
            loads.forEach(child -> all.put(child.target(), child.load()));
            return all;
        }

        public boolean haveSchemaChanges() {
            return loads.stream().anyMatch(c -> !c.load().schemaChanges().isEmpty());
        }

        public void applySchemaChanges() {
            loads.forEach(c -> c.load().applySchemaChanges());
        }

        /** Streams each child table's rows from {@code session}, after the parent's, before its transaction ends. */
        public void copy(RunContext run, Connection transaction, SourceSession session) throws SQLException {
            rows.clear();
            for (Child child : loads) {
                long started = System.nanoTime();
                long copied = CopyIntoBronze.copy(run, transaction, session, child.plan(), child.load().prepare()).rows();
                rows.put(child.target().toString(), copied);
                run.info("copied %,d rows into %s in %d ms".formatted(copied, child.target(), (System.nanoTime() - started) / 1_000_000));
            }
        }

        /** Puts each child table in place; returns the rows copied into each. */
        private Map<String, Long> finish() {
            for (Child child : loads) {
                child.load().finish(rows.get(child.target().toString()));
            }
            return new LinkedHashMap<>(rows);
        }

        /** Values the child tables' loads set aside, per {@code table.column} (flattened elements of a type their column does not hold). */
        private Map<String, Long> rejected() {
            var rejected = new LinkedHashMap<String, Long>();
            loads.forEach(child -> child.load().rejected().forEach((column, count) -> rejected.put(child.target().table() + "." + column, count)));
            return rejected;
        }

        /** For the dry run: a line per child table, its columns, estimate and COPY. */
        public Map<String, String> describe() {
            var lines = new LinkedHashMap<String, String>();
            for (Child child : loads) {
                lines.put("child " + child.target(), "%s columns, ~%,d rows: %s".formatted(child.plan().columns().stream()
                    .map(c -> TableRef.display(c.name()) + " " + c.bronzeType()).collect(Collectors.joining(", ")),
                    child.plan().estimatedRows(), child.plan().copySql()));
            }
            return lines;
        }
    }
}
