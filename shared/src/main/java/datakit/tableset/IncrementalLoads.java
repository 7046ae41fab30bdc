package datakit.tableset;

import datakit.bronze.ConflictPolicy;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.db.Database;
import datakit.error.DatakitException;
import datakit.full.FullExtract;
import datakit.full.SharedSnapshot;
import datakit.full.Splitting;
import datakit.incremental.IncrementalExtract;
import datakit.ops.DiscoveredJobs;
import datakit.report.RunContext;
import datakit.run.LoadChoice;
import datakit.source.Selection;
import datakit.sql.TableRef;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * The incremental loads of a set's tables, each chosen by the rule postgres-discover --emit-jobs follows ({@link LoadChoice}),
 * from one read of the source's catalog for all the tables:
 * <ul>
 *   <li>a primary key and a cursor (the --cursor-field where the table has that column, else its update time that leads an
 *       index): the rows past the table's checkpoint on that cursor, merged by the key (a date cursor re-reads its last day);</li>
 *   <li>a primary key and no such cursor, or {@code --sync-mode xmin}: xmin, merged by the key;</li>
 *   <li>no primary key: a full copy replacing the bronze table, since an incremental load needs a key in every mode.</li>
 * </ul>
 * Each table's entry in the set's summary says which it follows.
 */
final class IncrementalLoads implements TableSetRun.TableLoad {
    /** How one table is loaded: after a cursor, by xmin, or by a full copy. */
    record Choice(Optional<String> cursor, boolean xmin, Optional<String> ruleLookback, List<String> notes) {
        static final Choice FULL = new Choice(Optional.empty(), false, Optional.empty(), List.of());

        boolean full() {
            return cursor.isEmpty() && !xmin;
        }

        Map<String, Object> how() {
            var how = new LinkedHashMap<String, Object>();
            if (full()) {
                how.put("load", "full extract: no primary key");
            } else if (xmin) {
                how.put("sync_mode", "xmin");
            } else {
                how.put("cursor", cursor.get());
                ruleLookback.ifPresent(l -> how.put("lookback", l));
                if (!notes.isEmpty()) {
                    how.put("notes", notes);
                }
            }
            return how;
        }
    }

    private final Database source;
    private final Database warehouse;
    private final SetIncrement asked;
    private final WriteMode mode;
    private final SchemaPolicy onSchemaChange;
    private final UnaryOperator<Selection> read;
    private final Map<TableRef, Choice> choices;

    private IncrementalLoads(Database source, Database warehouse, SetIncrement asked, WriteMode mode, SchemaPolicy onSchemaChange,
                             UnaryOperator<Selection> read, Map<TableRef, Choice> choices) {
        this.source = source;
        this.warehouse = warehouse;
        this.asked = asked;
        this.mode = mode;
        this.onSchemaChange = onSchemaChange;
        this.read = read;
        this.choices = choices;
    }

    /** Chooses the load of each of {@code tables} from their catalog, read once. */
    static IncrementalLoads choose(RunContext run, Database source, Database warehouse, List<TableRef> tables, SetIncrement asked,
                                   WriteMode mode, SchemaPolicy onSchemaChange, UnaryOperator<Selection> read) {
        Map<TableRef, LoadChoice.Table> facts = DiscoveredJobs.facts(source, tables);
        asked.cursorField().filter(c -> facts.values().stream().noneMatch(t -> t.columns().stream().anyMatch(col -> col.name().equals(c))))
            .ifPresent(c -> run.warn("--cursor-field %s is a column of none of the %d tables: each follows its own update time, or xmin"
                .formatted(TableRef.display(c), tables.size())));
        // A date cursor's rule re-reads its last day; merge absorbs that, append would land it again and fail would stop at it.
        boolean reReads = mode == WriteMode.MERGE && asked.onConflict() != ConflictPolicy.FAIL;
        var choices = new LinkedHashMap<TableRef, Choice>();
        facts.forEach((table, known) -> choices.put(table, choice(known, asked, reReads)));
        return new IncrementalLoads(source, warehouse, asked, mode, onSchemaChange, read, choices);
    }

    private static Choice choice(LoadChoice.Table table, SetIncrement asked, boolean reReads) {
        if (table.primaryKey().isEmpty()) {
            return Choice.FULL;
        }
        Optional<LoadChoice> rule = asked.xmin() ? Optional.empty() : Optional.of(LoadChoice.of(table, asked.cursorField()));
        Optional<String> cursor = rule.flatMap(LoadChoice::cursorField);
        // The rule is followed without review here: what it would note on the chosen cursor goes into the summary.
        List<String> notes = cursor.filter(c -> !asked.cursorField().equals(Optional.of(c)))
            .flatMap(c -> table.columns().stream().filter(col -> col.name().equals(c)).findFirst())
            .map(LoadChoice::cursorNotes).orElse(List.of());
        return cursor.isEmpty() ? new Choice(Optional.empty(), true, Optional.empty(), List.of())
            : new Choice(cursor, false, rule.flatMap(LoadChoice::lookback).filter(l -> reReads && asked.lookback().isEmpty()), notes);
    }

    @Override
    public void load(RunContext tableRun, TableRef table, TableRef target, Optional<SharedSnapshot> snapshot) {
        Choice choice = choices.get(table);
        if (choice == null) {
            throw DatakitException.failed(table + " was not in the source's catalog when the set's loads were chosen (dropped or "
                + "renamed during the run?). The next run of the set takes the tables as they are then.");
        }
        Selection selection = read.apply(Selection.table(table));
        if (choice.full()) {
            var extract = new FullExtract(tableRun, source, warehouse, snapshot, Splitting.none());
            extract.load(extract.plan(selection), target, WriteMode.REPLACE, onSchemaChange);
            return;
        }
        new IncrementalExtract(tableRun, source, warehouse).load(asked.of(selection, choice.cursor(), choice.ruleLookback().map(Duration::parse)), target, mode,
            onSchemaChange);
    }

    @Override
    public Map<String, Object> how(TableRef table) {
        return choices.containsKey(table) ? choices.get(table).how() : Map.of();
    }
}
