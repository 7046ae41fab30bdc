package datakit.cdc;

import datakit.bronze.Backfill;
import datakit.bronze.BronzeTable;
import datakit.bronze.Landing;
import datakit.bronze.SchemaEvolution;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.db.SqlErrors;
import datakit.report.RunContext;
import datakit.run.CopyIntoBronze;
import datakit.run.Landings;
import datakit.source.ReadPlan;
import datakit.source.SchemaFingerprint;
import datakit.source.Selection;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jooq.DSLContext;

/**
 * Gives the rows of one {@code --apply} table the source's values of columns DDL changed without writing rows (see {@link
 * ValueRefresh}): the source's apply key and those columns stream into the warehouse and each bronze row takes the values
 * of its key ({@link Backfill}), in the column where the rule lands them now ({@link TableShape}: a type that changed with
 * no change sent since widens the column in place, or lands in a variant column, as a change of the new shape would). A
 * table without a key cannot be matched, and neither can rows whose key values changed: the run says so.
 */
final class ValueBackfill {
    private final RunContext run;
    private final Connection transaction;
    private final DSLContext db;
    private final SourceSession session;
    private final TableRef state;
    private final TableRef source;
    private final ValueRefresh.Said said;

    /**
     * @param transaction the warehouse transaction that stores the hashes read
     * @param session     a snapshot of the source, taken after the changes before the DDL were applied
     * @param state       the --apply table
     * @param source      the source table, by its name now
     */
    ValueBackfill(RunContext run, Connection transaction, SourceSession session, TableRef state, TableRef source, ValueRefresh.Said said) {
        this.run = run;
        this.transaction = transaction;
        this.db = Sql.using(transaction);
        this.session = session;
        this.state = state;
        this.source = source;
        this.said = said;
    }

    /** Refreshes {@code changed} by the apply key {@code key} (empty for a table kept without one), under {@code policy}. */
    void refresh(List<String> changed, List<String> key, SchemaPolicy policy) {
        Map<String, String> bronze = BronzeTable.inspect(db, state).orElseThrow().columns();
        // Those the source still has and the --apply table holds (in the column, or a variant column); freeze leaves some out.
        Set<String> present = SchemaFingerprint.read(session, Selection.table(source)).columns().keySet();
        List<String> columns = changed.stream().filter(present::contains)
            .filter(c -> !SchemaEvolution.columnsHolding(c, bronze).isEmpty()).toList();
        if (columns.isEmpty()) {
            return;
        }
        said.changed.put(state.toString(), columns);
        if (key.isEmpty()) {
            said.warnings.add(("%s (kept without a key): the values of %s in %s %s, and rows without a key cannot be matched to give them "
                + "the new values: the rows no change touched keep the old ones; run once with --resnapshot %s to reload it")
                .formatted(state, named(columns), source, ValueRefresh.WITHOUT_WRITES, source));
            return;
        }
        fill(bronze, columns.stream().filter(c -> !key.contains(c)).toList(), key, columns.stream().filter(key::contains).toList(), policy);
    }

    /** Fills {@code values} by {@code key}, and counts the rows whose key the source no longer has when key columns changed. */
    private void fill(Map<String, String> bronze, List<String> values, List<String> key, List<String> keyChanged, SchemaPolicy policy) {
        var read = new ArrayList<>(key);
        read.addAll(values);
        ReadPlan plan = session.plan(Selection.table(source).columns(read));
        Landing rows = Landings.of(plan);
        var types = new LinkedHashMap<String, String>();
        rows.columns().forEach(c -> types.put(c.name(), c.bronzeType()));
        // A key whose type changed so that its bronze column cannot hold it stops the run, as a change of the new shape would.
        StateApply.refuseAKeyThatMoved(source, state, key, SchemaEvolution.of(Optional.of(holding(keyChanged, bronze)),
            TableShape.landing(source, keyChanged, types), WriteMode.MERGE, SchemaPolicy.EVOLVE));
        TableShape shape = TableShape.of(db, state, holding(values, bronze), TableShape.landing(source, values, types), WriteMode.MERGE,
            policy, run.runId());
        shape.alter(db, Map.of()).forEach(c -> said.recorded.add(new Recorded(state, c, WriteMode.REPLACE)));
        var landsIn = new LinkedHashMap<String, String>();
        values.forEach(c -> landsIn.put(c, shape.evolution().landsIn().get(c)));
        var backfill = new Backfill(db, state, rows, key, landsIn, shape.evolution().cleared());
        try {
            CopyIntoBronze.copy(run, transaction, session, plan, backfill.prepare());
        } catch (SQLException e) {
            throw SqlErrors.failure("Giving " + state + " the source's values of " + named(values), e);
        }
        // A widened key keeps its values; one whose values changed leaves bronze rows with keys the source no longer has.
        long unmatched = keyChanged.isEmpty() ? 0 : backfill.unmatched();
        int filled = backfill.fill();
        if (unmatched > 0) {
            said.warnings.add(("%s: the values of key column %s of %s %s, so %,d of its rows no longer match a row of the source by key: "
                + "they keep their old values; run once with --resnapshot %s to reload it").formatted(state, named(keyChanged), source,
                ValueRefresh.WITHOUT_WRITES, unmatched, source));
        }
        if (!landsIn.isEmpty()) {
            var backfilled = new LinkedHashMap<String, Object>();
            backfilled.put("columns", List.copyOf(landsIn.values()));
            backfilled.put("rows", filled);
            said.backfilled.put(state.toString(), backfilled);
            run.info("gave the %,d rows %s held the source's values of %s, %s".formatted(filled, state, named(values),
                ValueRefresh.WITHOUT_WRITES));
        }
    }

    /** Of the bronze columns {@code bronze}, those that hold the values of {@code columns}: each, and its variant columns. */
    private static Map<String, String> holding(List<String> columns, Map<String, String> bronze) {
        var holding = new LinkedHashMap<String, String>();
        columns.forEach(c -> SchemaEvolution.columnsHolding(c, bronze).forEach(b -> holding.put(b, bronze.get(b))));
        return holding;
    }

    private static String named(List<String> columns) {
        return String.join(", ", columns.stream().map(TableRef::display).toList());
    }
}
