package datakit.source;

import datakit.error.DatakitException;
import datakit.json.ExplodeSpec;
import datakit.json.Flatten;
import datakit.json.FlattenSpec;
import datakit.json.Flattening;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The child reads {@code --explode} adds to a table's read: one row per array element, with the parent's
 * primary key, the element's position ({@code ordinal}, from 1; a multi-dimensional SQL array counts its
 * elements in storage order) and the element ({@code value}). Elements that are JSON objects also get
 * their keys as columns ({@code value__sku}), typed as {@code --flatten} types them. Rows without an
 * array (NULL, or JSON that is not an array there) have no child rows.
 */
final class ExplodedReads {
    static final String ORDINAL = "ordinal";
    static final String VALUE = "value";

    private ExplodedReads() {
    }

    /**
     * @param read    the parent's columns as read
     * @param key     the parent's primary key columns
     * @param planner plans a child's query, in the parent's snapshot
     */
    static List<ReadPlan.Child> plan(Selection selection, TableRef table, List<SourceColumn> read, List<String> key,
                                     Function<Selection, ReadPlan> planner) {
        var children = new ArrayList<ReadPlan.Child>();
        var suffixes = new HashSet<String>();
        for (ExplodeSpec spec : selection.explode()) {
            DatakitException.check(suffixes.add(spec.suffix()), "--explode %s: another --explode lands in the same child table (%s). Explode "
                + "each array once.", spec.describe(), spec.suffix());
            DatakitException.check(!key.isEmpty(), "--explode %s needs the primary key of %s to link each element to its row, and %s has "
                + "none. Explode a table with a primary key.", spec.describe(), table, table);
            List<String> missing = key.stream().filter(k -> SourceColumn.named(read, k).isEmpty()).toList();
            DatakitException.check(missing.isEmpty(), "--explode %s links elements to their rows by the primary key, and --columns leaves "
                + "out %s. Add it to --columns.", spec.describe(), String.join(", ", missing.stream().map(TableRef::display).toList()));
            DatakitException.check(!key.contains(ORDINAL) && !key.contains(VALUE), "--explode %s: the primary key of %s has a column named "
                + "ordinal or value, which the child table uses for the element.", spec.describe(), table);
            SourceColumn column = SourceColumn.named(read, spec.column()).orElseThrow(() -> DatakitException.badInput(
                "--explode %s: the read has no column %s. Name an array or JSON column it reads.", spec.describe(), TableRef.display(spec.column())));
            String sql = "SELECT " + key.stream().map(k -> "p." + Sql.quote(k)).collect(Collectors.joining(", "))
                + ", e.n AS " + ORDINAL + ", e.v AS " + VALUE
                + " FROM (SELECT * FROM " + table.sql() + ReadSql.where(selection.where(), List.of()) + ") AS p"
                + ", LATERAL " + elements(spec, column) + " WITH ORDINALITY AS e(v, n)";
            Selection child = Selection.query(sql);
            if (column.json()) {
                child = child.flatten(new Flatten(List.of(new FlattenSpec(VALUE, List.of(), 1)), selection.flatten().sampleRows()));
            }
            children.add(new ReadPlan.Child(spec.suffix(), planner.apply(child)));
        }
        return children;
    }

    /** The set-returning call that yields the elements of the spec's array in row {@code p}. */
    private static String elements(ExplodeSpec spec, SourceColumn column) {
        String value = "p." + Sql.quote(column.name());
        if (column.bronzeType().endsWith("[]")) {
            DatakitException.check(spec.path().isEmpty(), "--explode %s: %s is an array (%s), which has no keys. Explode the column: "
                + "--explode %s.", spec.describe(), TableRef.display(column.name()), column.bronzeType(), TableRef.display(column.name()));
            return "pg_catalog.unnest(" + value + (column.cast() ? "::" + column.bronzeType() : "") + ")";
        }
        DatakitException.check(column.json(), "--explode %s: %s is %s, not an array, json or jsonb.", spec.describe(),
            TableRef.display(column.name()), column.bronzeType());
        String array = Flattening.at(column.jsonb("p."), spec.path());
        return "pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(" + array + ") = 'array' THEN " + array + " END)";
    }
}
