package datakit.source;

import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.sql.Identifiers;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;

/**
 * Field mappings applied in the source's SELECT, on the way in: {@code --cast hire_date=text} reads a
 * column as another built-in type, {@code --rename a=b} lands it under another name. A cast column lands
 * as the cast's type without its modifier (a {@code numeric(10,2)} cast rounds the values, and the bronze
 * column is {@code numeric}), so appends never trip over a spelling of the same type.
 *
 * @param casts   source column name to the SQL type to read it as
 * @param renames source column name to its bronze name
 */
public record Mappings(Map<String, String> casts, Map<String, String> renames) {
    public static final Mappings NONE = new Mappings(Map.of(), Map.of());
    /** OIDs below this are assigned by initdb: built-in types, the same on every server. */
    private static final long FIRST_NORMAL_OBJECT_ID = 16384;

    public Mappings {
        casts = Map.copyOf(casts);
        renames = Map.copyOf(renames);
    }

    public boolean isEmpty() {
        return casts.isEmpty() && renames.isEmpty();
    }

    /** The columns as they land: cast and renamed, each with the SQL that reads it. */
    List<SourceColumn> apply(DSLContext db, List<SourceColumn> columns, String read) {
        for (String name : casts.keySet()) {
            checkRead(columns, name, "--cast", read);
        }
        for (String name : renames.keySet()) {
            checkRead(columns, name, "--rename", read);
        }
        var mapped = new ArrayList<SourceColumn>();
        var names = new HashSet<String>();
        for (SourceColumn column : columns) {
            SourceColumn landed = column;
            String source = Sql.quote(column.name());
            if (casts.containsKey(column.name())) {
                String type = casts.get(column.name());
                landed = new SourceColumn(column.name(), column.sourceType(), landingOf(db, type, column.name()), false,
                    Optional.of("cast to " + type + " (--cast)"), Optional.of(source + "::" + type));
            } else if (renames.containsKey(column.name()) && column.expression().isEmpty()) {
                landed = new SourceColumn(column.name(), column.sourceType(), column.bronzeType(), false, column.note(),
                    Optional.of(column.cast() ? source + "::" + column.bronzeType() : source));
            }
            String name = renames.getOrDefault(column.name(), column.name());
            DatakitException.check(names.add(name), "--rename would land two columns named %s. Give each its own name.", TableRef.display(name));
            mapped.add(new SourceColumn(name, landed.sourceType(), landed.bronzeType(), landed.cast(), landed.note(), landed.expression()));
        }
        return mapped;
    }

    private static void checkRead(List<SourceColumn> columns, String name, String option, String read) {
        DatakitException.check(SourceColumn.named(columns, name).isPresent(), "%s names %s, which the read of %s has not. Name one of its "
            + "columns: %s.", option, TableRef.display(name), read, String.join(", ", columns.stream().map(c -> TableRef.display(c.name())).toList()));
    }

    /** The bronze type of a cast: the type without its modifier, which must be built in and land as itself (see LandingTypes). */
    private static String landingOf(DSLContext db, String type, String column) {
        try {
            var r = db.resultQuery("SELECT pg_catalog.pg_typeof(NULL::" + type + ")::oid::bigint, pg_catalog.pg_typeof(NULL::" + type + ")::text")
                .fetchOne();
            DatakitException.check(r.get(0, Long.class) < FIRST_NORMAL_OBJECT_ID, "--cast %s=%s: only built-in types can be cast to, "
                + "since bronze may not have %s. Cast to text instead.", TableRef.display(column), type, type);
            // Built-in types that binary COPY cannot carry (int2vector, regclass...) would break the load or change the values.
            var landing = new LandingTypes(db).landing(r.get(0, Long.class), -1);
            DatakitException.check(!landing.cast(), "--cast %s=%s: %s, so it cannot be cast to. Cast to text instead.",
                TableRef.display(column), type, landing.note().orElse(type + " lands as " + landing.type()));
            return r.get(1, String.class);
        } catch (DataAccessException e) {
            throw DatakitException.badInput("--cast %s=%s: the source does not know the type (%s). Give a PostgreSQL type such as text, "
                + "bigint or numeric(12,2).", TableRef.display(column), type, SqlErrors.serverMessage(e));
        }
    }

    /** Parses {@code name=value} pairs of an option; names follow the identifier rules of --columns. */
    public static Map<String, String> pairs(List<String> values, String option, boolean valueIsName) {
        var pairs = new LinkedHashMap<String, String>();
        for (String value : values) {
            int eq = value.indexOf('=');
            DatakitException.check(eq > 0 && eq < value.length() - 1, "%s %s: write COLUMN=%s.", option, value, valueIsName ? "NEW_NAME" : "TYPE");
            String name = Identifiers.one(value.substring(0, eq).strip(), option);
            String target = value.substring(eq + 1).strip();
            if (valueIsName) {
                target = Identifiers.one(target, option);
            } else {
                DatakitException.check(target.matches("[A-Za-z_][A-Za-z0-9_ .\"]*(\\([0-9, ]+\\))?(\\[\\])*"), "%s %s: %s is not a type name. "
                    + "Write a PostgreSQL type such as text, bigint or numeric(12,2).", option, value, target);
            }
            DatakitException.check(pairs.put(name, target) == null, "%s names %s twice.", option, TableRef.display(name));
        }
        return pairs;
    }
}
