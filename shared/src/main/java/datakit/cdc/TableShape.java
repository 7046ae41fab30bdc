package datakit.cdc;

import datakit.bronze.Landing;
import datakit.bronze.LandingColumn;
import datakit.bronze.SchemaChange;
import datakit.bronze.SchemaChangeLog;
import datakit.bronze.SchemaEvolution;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.jooq.DSLContext;

/**
 * One of a change stream's bronze tables (a change table, or an {@code --apply} table) meeting the columns a Relation
 * message announces, by the rule every mode follows ({@link SchemaEvolution}) under the stream's {@code --on-schema-change}:
 * what changes, the statements that make it, and its record in schema_changes, all in the batch's transaction.
 * <p>
 * A table that holds no row yet takes a type its column cannot widen to (as a replaced table is rebuilt with it): a change
 * table made from the catalog's newer types, before the stream's older changes arrived, then ends up as the one made
 * before them does.
 */
final class TableShape {
    private static final Landing.Checks NO_CHECKS = new Landing.Checks(List.of(), List.of(), 0, List.of());

    private final TableRef table;
    private final Map<String, String> columns;
    private final Landing landing;
    private final SchemaEvolution evolution;
    private final SchemaChangeLog log;

    private TableShape(TableRef table, Map<String, String> columns, Landing landing, SchemaEvolution evolution, SchemaChangeLog log) {
        this.table = table;
        this.columns = columns;
        this.landing = landing;
        this.evolution = evolution;
        this.log = log;
    }

    /**
     * How {@code table} meets {@code landing}; fails, before anything is written, when the policy refuses a change the
     * stream has not followed before.
     *
     * @param columns the table's columns that hold source columns (and their variant columns), with their types
     * @param mode    append for a change table (a history), merge for an --apply table (a row per key)
     */
    static TableShape of(DSLContext db, TableRef table, Map<String, String> columns, Landing landing, WriteMode mode, SchemaPolicy policy,
                         UUID runId) {
        var log = new SchemaChangeLog(db, table, landing.sourceTable().map(TableRef::toString), runId);
        Optional<Map<String, String>> bronze = Optional.of(columns);
        boolean variant = SchemaEvolution.of(bronze, landing, mode, SchemaPolicy.EVOLVE).changes().stream()
            .anyMatch(c -> c.kind() == SchemaChange.Kind.VARIANT);
        WriteMode as = variant && isEmpty(db, table) ? WriteMode.REPLACE : mode;
        return new TableShape(table, columns, landing, SchemaEvolution.of(bronze, landing, as, policy, log::holds), log);
    }

    /** What a Relation message lands, as bronze takes a load: {@code types} gives each column's bronze type. */
    static Landing landing(TableRef source, List<String> names, Map<String, String> types) {
        return new Landing(source.toString(), Optional.of(source),
            names.stream().map(c -> new LandingColumn(c, types.get(c), types.get(c))).toList(), NO_CHECKS);
    }

    SchemaEvolution evolution() {
        return evolution;
    }

    /** The columns the source added, which the table gains (not those freeze leaves out). */
    List<String> added() {
        return evolution.changes().stream().filter(c -> c.kind() == SchemaChange.Kind.ADDED).map(SchemaChange::column).toList();
    }

    /**
     * Alters the table to the shape and records the changes the stream had not recorded yet, which it returns. An added
     * column with a value in {@code olderValues} gets it in every row the table holds (a constant default, then none).
     */
    List<SchemaChange> alter(DSLContext db, Map<String, Optional<String>> olderValues) {
        String alter = "ALTER TABLE " + table.sql() + " ";
        for (SchemaChange change : evolution.alterations(columns)) {
            String column = Sql.quote(change.landsIn().orElseThrow());
            String type = change.newType().orElseThrow();
            if (columns.containsKey(change.landsIn().orElseThrow())) {
                // A retyped column holds no row, so any conversion does; a widening needs none.
                db.execute(alter + "ALTER COLUMN " + column + " TYPE " + type
                    + (change.kind() == SchemaChange.Kind.RETYPED ? " USING " + column + "::text::" + type : ""));
            } else {
                Optional<String> value = change.kind() == SchemaChange.Kind.ADDED
                    ? olderValues.getOrDefault(change.column(), Optional.empty()) : Optional.empty();
                db.execute(alter + "ADD COLUMN " + column + " " + type + value.map(v -> " DEFAULT " + Sql.literal(v) + "::" + type).orElse(""));
                value.ifPresent(v -> db.execute(alter + "ALTER COLUMN " + column + " DROP DEFAULT"));
            }
        }
        return log.record(evolution.changes(), landing.columns().stream().filter(c -> evolution.landsIn().containsKey(c.name())).toList());
    }

    private static boolean isEmpty(DSLContext db, TableRef table) {
        return db.resultQuery("SELECT NOT EXISTS (SELECT FROM " + table.sql() + ")").fetchOne(0, Boolean.class);
    }
}
