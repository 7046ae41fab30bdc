package datakit.bronze;

import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * What one load lands in bronze, in the landing side's own terms: the columns of its rows, where they came from (for
 * messages and {@code _bronze_rejects}), and what the warehouse checks of them before they land. The reader builds it
 * from its plan, so the bronze side never sees how the rows were read. The rows arrive in COPY's binary format, with
 * the columns in this order.
 *
 * @param origin      what the rows were read from, for messages ({@code sales.orders}, or {@code query})
 * @param sourceTable the source table, or empty for a query
 * @param columns     the rows' columns, in their order
 * @param checks      what the warehouse checks of the copied rows before they land
 * @param sampledPrefixes the prefixes of columns flattened from JSON keys (see {@link #comesAndGoes})
 */
public record Landing(String origin, Optional<TableRef> sourceTable, List<LandingColumn> columns, Checks checks,
                      List<String> sampledPrefixes) {

    /**
     * What the warehouse checks of the copied rows before they land, setting aside what fails with the row's
     * {@code key}: text columns declared JSON, which arrive as text and become jsonb; the content of large objects,
     * which must exist and stay under {@code largeObjectCapBytes}; and the values of flattened JSON keys that are NULL in
     * their column because they have a JSON type it does not hold.
     */
    public record Checks(List<String> jsonText, List<LargeObject> largeObjects, long largeObjectCapBytes, List<String> key,
                         List<FlatKey> flatKeys) {
        public Checks {
            jsonText = List.copyOf(jsonText);
            largeObjects = List.copyOf(largeObjects);
            key = List.copyOf(key);
            flatKeys = List.copyOf(flatKeys);
        }

        public Checks(List<String> jsonText, List<LargeObject> largeObjects, long largeObjectCapBytes, List<String> key) {
            this(jsonText, largeObjects, largeObjectCapBytes, key, List.of());
        }
    }

    /** A column flattened from the JSON value at {@code path} in the column {@code document}, holding one JSON type only. */
    public record FlatKey(String column, String document, List<String> path) {
        public FlatKey {
            path = List.copyOf(path);
        }
    }

    /** An oid column whose large objects arrive as bytea in {@code content}, the first cap + 1 bytes of each (NULL where missing). */
    public record LargeObject(String column, String content) {
    }

    public Landing {
        columns = List.copyOf(columns);
        sampledPrefixes = List.copyOf(sampledPrefixes);
    }

    public Landing(String origin, Optional<TableRef> sourceTable, List<LandingColumn> columns, Checks checks) {
        this(origin, sourceTable, columns, checks, List.of());
    }

    /**
     * Whether a bronze column comes and goes with what a sample finds rather than with the source's columns: a key
     * flattened from a JSON column ({@code sampledPrefixes}: {@code payload__}), which one run's sample may miss and the
     * next find again. Its absence from a load is not a schema change.
     */
    boolean comesAndGoes(String column) {
        return sampledPrefixes.stream().anyMatch(column::startsWith);
    }

    /** The columns' names, in order. */
    public List<String> names() {
        return columns.stream().map(LandingColumn::name).toList();
    }

    /** The COPY that streams the rows into {@code table}, which was created in the same transaction (hence FREEZE). */
    String copyInto(TableRef table) {
        return copyInto(table, true);
    }

    /** The COPY into {@code table}; {@code freeze} only when the table was created in the COPY's own transaction. */
    String copyInto(TableRef table, boolean freeze) {
        return "COPY " + table.sql() + " (" + BronzeLoad.quoted(names()) + ") FROM STDIN (FORMAT binary" + (freeze ? ", FREEZE)" : ")");
    }

    /** The columns' definitions, {@code "name" type}, for a CREATE TABLE. */
    String definitions() {
        return columns.stream().map(c -> Sql.quote(c.name()) + " " + c.bronzeType()).collect(Collectors.joining(", "));
    }
}
