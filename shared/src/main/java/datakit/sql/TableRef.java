package datakit.sql;

import datakit.error.DatakitException;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A schema-qualified table name as the catalog stores it. Parsing follows PostgreSQL: unquoted names
 * fold to lower case, {@code "Quoted"} names keep their case, so {@code --table Sales.Orders} means
 * {@code sales.orders} exactly as it would in psql.
 */
public record TableRef(String schema, String table) {
    private static final Pattern PLAIN = Pattern.compile("[a-z_][a-z0-9_$]*");
    /** PostgreSQL truncates longer identifiers silently; we refuse them instead. */
    public static final int MAX_IDENTIFIER_BYTES = 63;

    public TableRef {
        checkIdentifier(schema, "schema");
        checkIdentifier(table, "table");
    }

    public static TableRef of(String schema, String table) {
        return new TableRef(schema, table);
    }

    /** Parses {@code schema.table} or {@code table} (then in {@code defaultSchema}). */
    public static TableRef parse(String text, String defaultSchema, String what) {
        List<String> parts = Identifiers.split(text, '.', what);
        if (parts.size() == 1) {
            return new TableRef(defaultSchema, parts.get(0));
        }
        if (parts.size() == 2) {
            return new TableRef(parts.get(0), parts.get(1));
        }
        throw DatakitException.badInput("%s \"%s\" has %d dot-separated parts; give schema.table (quote a name that contains a dot: \"my.table\").",
            what, text, parts.size());
    }

    private static void checkIdentifier(String name, String what) {
        DatakitException.check(name != null && !name.isEmpty(), "The %s name is empty.", what);
        int bytes = name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        DatakitException.check(bytes <= MAX_IDENTIFIER_BYTES,
            "The %s name \"%s\" is %d bytes long; PostgreSQL allows %d. Choose a shorter name.", what, name, bytes, MAX_IDENTIFIER_BYTES);
    }

    /** The quoted, qualified name as SQL text: {@code "sales"."orders"}. */
    public String sql() {
        return Sql.inline(Sql.name(schema, table));
    }

    /** A new name in the same schema. */
    public TableRef withTable(String newTable) {
        return new TableRef(schema, newTable);
    }

    /** How users write it: quotes only where PostgreSQL needs them ({@code sales."Order Items"}). */
    @Override
    public String toString() {
        return display(schema) + "." + display(table);
    }

    /** An identifier as a user would type it: bare when it is plain lower case, quoted otherwise. */
    public static String display(String identifier) {
        return PLAIN.matcher(identifier).matches() ? identifier : '"' + identifier.replace("\"", "\"\"") + '"';
    }
}
