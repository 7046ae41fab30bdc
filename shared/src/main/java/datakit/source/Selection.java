package datakit.source;

import datakit.json.ExplodeSpec;
import datakit.json.Flatten;
import datakit.sql.SqlFragment;
import datakit.sql.TableRef;
import java.util.List;
import java.util.Optional;

/**
 * What to read from the source: a table (optionally some of its columns and a filter) or a query, the
 * JSON columns whose keys become columns of their own, the arrays whose elements land in child tables,
 * whether the keys of JSON columns are profiled, the text columns declared JSON, and the large objects to
 * read, the columns renamed or cast on the way in, and the name the table had before it was renamed at the source
 * ({@code --renamed-from}: its stream goes on under the new name). {@code where} and {@code query} are trusted SQL written by
 * the user who runs the datakit.
 */
public record Selection(Optional<TableRef> table, List<String> columns, Optional<String> where, Optional<String> query,
                        Flatten flatten, List<ExplodeSpec> explode, boolean profile, List<String> jsonText,
                        LargeObjects largeObjects, Mappings mappings, Optional<TableRef> renamedFrom) {

    public Selection {
        columns = List.copyOf(columns);
        explode = List.copyOf(explode);
        jsonText = List.copyOf(jsonText);
    }

    /** Every column and row of a table. */
    public static Selection table(TableRef table) {
        return new Selection(Optional.of(table), List.of(), Optional.empty(), Optional.empty(), Flatten.NONE, List.of(), false, List.of(),
            LargeObjects.NONE, Mappings.NONE, Optional.empty());
    }

    /** The rows of a query (one SELECT, checked; a trailing semicolon is dropped). */
    public static Selection query(String sql) {
        return new Selection(Optional.empty(), List.of(), Optional.empty(), Optional.of(SqlFragment.checkQuery(sql)), Flatten.NONE,
            List.of(), false, List.of(), LargeObjects.NONE, Mappings.NONE, Optional.empty());
    }

    /** Only these columns, in this order (names as the catalog stores them). */
    public Selection columns(List<String> names) {
        return new Selection(table, names, where, query, flatten, explode, profile, jsonText, largeObjects, mappings, renamedFrom);
    }

    /** Only the rows matching this SQL condition (one expression, checked), or all rows for null. */
    public Selection where(String condition) {
        return new Selection(table, columns, Optional.ofNullable(condition).map(c -> SqlFragment.check(c, "--where")), query, flatten,
            explode, profile, jsonText, largeObjects, mappings, renamedFrom);
    }

    /** With these JSON columns flattened. */
    public Selection flatten(Flatten flatten) {
        return new Selection(table, columns, where, query, flatten, explode, profile, jsonText, largeObjects, mappings, renamedFrom);
    }

    /** Also profiling the keys of every JSON column read (or not). */
    public Selection profile(boolean keys) {
        return new Selection(table, columns, where, query, flatten, explode, keys, jsonText, largeObjects, mappings, renamedFrom);
    }

    /** With these text columns declared JSON: they land as jsonb, and values that do not parse are set aside. */
    public Selection jsonText(List<String> names) {
        return new Selection(table, columns, where, query, flatten, explode, profile, names, largeObjects, mappings, renamedFrom);
    }

    /** With the large objects of these oid columns landing as bytea next to them. */
    public Selection largeObjects(LargeObjects objects) {
        return new Selection(table, columns, where, query, flatten, explode, profile, jsonText, objects, mappings, renamedFrom);
    }

    /** With these arrays exploded into child tables. */
    public Selection explode(List<ExplodeSpec> arrays) {
        return new Selection(table, columns, where, query, flatten, arrays, profile, jsonText, largeObjects, mappings, renamedFrom);
    }

    /** With these columns renamed and cast on the way in. */
    public Selection mappings(Mappings fieldMappings) {
        return new Selection(table, columns, where, query, flatten, explode, profile, jsonText, largeObjects, fieldMappings, renamedFrom);
    }

    /** The table read, which was called {@code before} until it was renamed at the source: its stream keeps going. */
    public Selection renamedFrom(TableRef before) {
        return new Selection(table, columns, where, query, flatten, explode, profile, jsonText, largeObjects, mappings,
            Optional.of(before));
    }

    /** "sales.orders" or "query", for messages and run records. */
    public String describe() {
        return table.map(TableRef::toString).orElse("query");
    }
}
