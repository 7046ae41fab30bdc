package datakit.source;

import datakit.cli.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;

/**
 * The interval [{@code --from}, {@code --to}) on the first column of a range partition key, and what it
 * means for a partition: a partition whose range bounds lie wholly inside it is read whole, one wholly
 * outside is left out, and any other (a DEFAULT partition, one that straddles a bound, one below a list or
 * hash level only) is read with the interval's condition on the key, so exactly the rows in the interval
 * are read. Values are compared as the key's type, in the key's collation, as PostgreSQL routes rows.
 *
 * <p>With a key of several columns, the interval applies to the first one: a row is in it when its first
 * key column is; the bounds of a partition only bound that column's values.
 */
final class KeyInterval {
    private final DSLContext db;
    private final String column;
    private final String type;
    private final Optional<String> collation;
    private final Optional<String> from;
    private final Optional<String> to;

    /** What a partition's range bound says about its rows: outside the interval, or which of its ends they keep within. */
    record Reach(boolean outside, boolean withinFrom, boolean withinTo) {
        static final Reach UNKNOWN = new Reach(false, false, false);

        Reach and(Reach other) {
            return new Reach(outside || other.outside, withinFrom || other.withinFrom, withinTo || other.withinTo);
        }
    }

    private KeyInterval(DSLContext db, String column, String type, Optional<String> collation, Optional<String> from, Optional<String> to) {
        this.db = db;
        this.column = column;
        this.type = type;
        this.collation = collation;
        this.from = from;
        this.to = to;
    }

    /**
     * The interval on {@code column} of {@code table}'s range key, with {@code --from} and {@code --to}
     * checked against the key's {@code type} and written as that type prints them.
     */
    static KeyInterval of(DSLContext db, TableRef table, String column, String type, Optional<String> collation, Split split) {
        Optional<String> from = split.from().map(v -> normalized(db, "--from", v, table, column, type));
        Optional<String> to = split.to().map(v -> normalized(db, "--to", v, table, column, type));
        var interval = new KeyInterval(db, column, type, collation, from, to);
        if (from.isPresent() && to.isPresent()) {
            DatakitException.check(interval.isTrue(interval.keyed(interval.value(from.get())) + " < " + interval.value(to.get())),
                "--from %s is not before --to %s, so no partition could overlap. Give an interval where --from < --to.",
                split.from().get(), split.to().get());
        }
        return interval;
    }

    private static String normalized(DSLContext db, String option, String value, TableRef table, String column, String type) {
        try {
            return db.resultQuery("SELECT (" + Sql.literal(value) + "::" + type + ")::text").fetchOne(0, String.class);
        } catch (DataAccessException e) {
            throw DatakitException.badInput("%s \"%s\" is not a valid %s, the type of %s, the range partition key of %s. Give a value "
                + "of that type.", option, value, type, TableRef.display(column), table);
        }
    }

    String column() {
        return column;
    }

    /**
     * What a range bound ({@code FOR VALUES FROM (...) TO (...)}) of a level keyed first on this column
     * says about the partition's rows; a DEFAULT says nothing.
     */
    Reach reach(String bound) {
        var values = rangeValues(bound);
        if (values.isEmpty()) {
            return Reach.UNKNOWN;
        }
        List<String> lower = values.get().get(0);
        List<String> upper = values.get().get(1);
        Optional<String> low = Optional.of(lower.get(0)).filter(v -> !v.equals("MINVALUE") && !v.equals("MAXVALUE"));
        Optional<String> high = Optional.of(upper.get(0)).filter(v -> !v.equals("MINVALUE") && !v.equals("MAXVALUE"));
        // Rows stay below the upper bound's first value only when the bound has no other column to go on with.
        boolean exclusive = upper.stream().skip(1).allMatch("MINVALUE"::equals);
        String below = exclusive ? " <= " : " < ";
        var outside = new ArrayList<String>();
        from.ifPresent(f -> high.ifPresent(h -> outside.add(keyed(h) + below + value(f))));
        to.ifPresent(t -> low.ifPresent(l -> outside.add(keyed(l) + " >= " + value(t))));
        String withinFrom = from.isEmpty() ? "true" : low.map(l -> keyed(l) + " >= " + value(from.get())).orElse("false");
        String withinTo = to.isEmpty() ? "true" : high.map(h -> keyed(h) + below + value(to.get())).orElse("false");
        var answer = db.resultQuery("SELECT " + (outside.isEmpty() ? "false" : String.join(" OR ", outside)) + ", " + withinFrom + ", "
            + withinTo).fetchOne();
        return new Reach(answer.get(0, Boolean.class), answer.get(1, Boolean.class), answer.get(2, Boolean.class));
    }

    /** The condition that keeps a partition's rows to the interval where its bounds do not already: none when they do. */
    Optional<String> condition(Reach reach) {
        String key = Sql.quote(column) + collation.map(c -> " COLLATE " + c).orElse("");
        var conditions = new ArrayList<String>();
        from.filter(f -> !reach.withinFrom()).ifPresent(f -> conditions.add(key + " >= " + value(f)));
        to.filter(t -> !reach.withinTo()).ifPresent(t -> conditions.add(key + " < " + value(t)));
        return conditions.isEmpty() ? Optional.empty() : Optional.of(String.join(" AND ", conditions));
    }

    private String value(String normalized) {
        return Sql.literal(normalized) + "::" + type;
    }

    /** A bound's value as the key's type, in the key's collation, so it compares as the partitioning does. */
    private String keyed(String boundValue) {
        return "(" + boundValue + ")::" + type + collation.map(c -> " COLLATE " + c).orElse("");
    }

    private boolean isTrue(String condition) {
        return Boolean.TRUE.equals(db.resultQuery("SELECT " + condition).fetchOne(0, Boolean.class));
    }

    /**
     * The lower and upper values of a range bound as pg_get_expr prints it
     * ({@code FOR VALUES FROM ('2026-01-01', MINVALUE) TO ('2027-01-01', MINVALUE)}), or none for another
     * bound. Values are split at the commas outside quoted literals, so a literal holding ") TO (" or a
     * comma is one value.
     */
    static Optional<List<List<String>>> rangeValues(String bound) {
        String prefix = "FOR VALUES FROM (";
        if (!bound.startsWith(prefix)) {
            return Optional.empty();
        }
        var lower = new ArrayList<String>();
        int end = list(bound, prefix.length(), lower);
        String middle = ") TO (";
        if (!bound.startsWith(middle, end)) {
            return Optional.empty();
        }
        var upper = new ArrayList<String>();
        end = list(bound, end + middle.length(), upper);
        return end == bound.length() - 1 ? Optional.of(List.of(lower, upper)) : Optional.empty();
    }

    /** Reads values from {@code start} up to the closing parenthesis outside quotes, whose index it returns. */
    private static int list(String text, int start, List<String> values) {
        var current = new StringBuilder();
        boolean quoted = false;
        boolean escapes = false;
        int i = start;
        for (; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted && escapes && c == '\\' && i + 1 < text.length()) {
                current.append(c).append(text.charAt(++i));
                continue;
            }
            if (c == '\'') {
                escapes = quoted ? escapes : current.toString().strip().equalsIgnoreCase("E");
                quoted = !quoted;
            } else if (!quoted && (c == ',' || c == ')')) {
                values.add(current.toString().strip());
                current.setLength(0);
                if (c == ')') {
                    break;
                }
                continue;
            }
            current.append(c);
        }
        return i;
    }
}
