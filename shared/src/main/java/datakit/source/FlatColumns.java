package datakit.source;

import datakit.error.DatakitException;
import datakit.json.Flatten;
import datakit.json.FlattenSpec;
import datakit.json.Flattening;
import datakit.json.KeyTypes;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The columns {@code --flatten} adds to a read: for each flattened JSON column, the key paths and their
 * types learnt from a sample of its documents (in the read's snapshot, with its filter), each computed
 * in the source query next to the raw column.
 */
final class FlatColumns {
    private final KeyTypes.Rows rows;

    FlatColumns(KeyTypes.Rows rows) {
        this.rows = rows;
    }

    /**
     * @param read      the columns read as they are
     * @param from      the FROM item of the read
     * @param where     the read's WHERE clause (with its keyword), or ""
     * @param sampling  a TABLESAMPLE clause for {@code from} when it is a table, or ""
     * @param sampled   receives the key types of each spec (sampled now, or as the flatten already had them)
     * @param checked   receives the columns whose values of another JSON type are NULL, for the warehouse to count
     */
    List<SourceColumn> of(Flatten flatten, List<SourceColumn> read, String from, String where, String sampling,
                          Map<FlattenSpec, List<KeyTypes>> sampled, List<ReadPlan.FlatKey> checked) {
        var added = new ArrayList<SourceColumn>();
        var names = read.stream().map(SourceColumn::name).collect(Collectors.toCollection(HashSet::new));
        for (FlattenSpec spec : flatten.specs()) {
            SourceColumn column = SourceColumn.named(read, spec.column()).orElseThrow(() -> DatakitException.badInput(
                "--flatten %s: the read has no column %s. Name a json or jsonb column it reads.", spec.describe(), TableRef.display(spec.column())));
            DatakitException.check(column.json(), "--flatten %s: %s is %s, not json or jsonb. Flatten a "
                + "JSON column.", spec.describe(), TableRef.display(column.name()), column.bronzeType());
            String document = document(column, spec);
            String sample = "SELECT " + document + " AS doc FROM " + from + (sampling.isEmpty() ? "" : " " + sampling) + where
                + (flatten.sampleRows() > 0 ? " LIMIT " + flatten.sampleRows() : "");
            List<KeyTypes> keys = flatten.sampled().containsKey(spec) ? flatten.sampled().get(spec) : KeyTypes.of(rows, sample, spec.depth());
            sampled.put(spec, keys);
            for (Flattening.FlatColumn flat : Flattening.columns(spec, document, keys, flatten.kept())) {
                DatakitException.check(SourceColumn.named(read, flat.name()).isEmpty(), "--flatten %s makes a column %s, and "
                    + "the read already has one by that name. Rename that column with a --query, or flatten a path inside it.",
                    spec.describe(), TableRef.display(flat.name()));
                DatakitException.check(names.add(flat.name()), "--flatten %s makes the column %s from two keys (one holds \"__\", such "
                    + "as a__b next to a.b). Flatten one level less, so the object stays one jsonb column.", spec.describe(),
                    TableRef.display(flat.name()));
                added.add(new SourceColumn(flat.name(), "JSON " + String.join(" or ", flat.seen().valueTypes()), flat.type(), false,
                    Optional.of("from %s, key %s (sampled: %s)%s".formatted(spec.describe(), String.join(".", flat.seen().path()),
                        flat.seen().describe(), flat.vacant() ? "; a variant column, NULL in this load: the key's values land in another"
                        : "")), Optional.of(flat.expression())));
                if (flat.dropsOtherTypes()) {
                    var path = new ArrayList<>(spec.path());
                    path.addAll(flat.seen().path());
                    checked.add(new ReadPlan.FlatKey(flat.name(), column.name(), path));
                }
            }
        }
        return added;
    }

    /** The flattened object as jsonb: the column (cast from json), or the object at the spec's path in it. */
    private static String document(SourceColumn column, FlattenSpec spec) {
        return Flattening.at(column.jsonb(""), spec.path());
    }
}
