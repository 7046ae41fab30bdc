package datakit.source;

import datakit.error.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;

/**
 * The interval [{@code --from}, {@code --to}) on the first column of a range partition key, and what it
 * means for a partition: a partition whose range bounds lie wholly inside it is read whole, one wholly
 * outside is left out, and any other (a DEFAULT partition, one that straddles a bound, one below a list or
 * hash level only) is read with the interval's condition on the key, so exactly the rows in the interval
 * are read. Values are compared as PostgreSQL routes rows: as the key's type, in the key's collation, with
 * the operators of the key's operator class ({@code text_pattern_ops} compares bytes, whatever the collation).
 *
 * <p>With a key of several columns, the interval applies to the first one: a row is in it when its first
 * key column is; the bounds of a partition only bound that column's values.
 */
final class KeyInterval {
    private final DSLContext db;
    private final Key key;
    private final Operators operators;
    private final Optional<String> from;
    private final Optional<String> to;

    /**
     * What a level partitioned by range compares its rows on: the first column of its key, the type its values
     * are cast to (without a modifier, so {@code char(3)} values compare whole, as {@code bpchar}), the type as
     * declared (for messages), the key's collation, and the oid of its btree operator class. Two levels bound
     * the same values only when their keys are equal.
     */
    record Key(String column, String type, String declaredType, Optional<String> collation, long operatorClass) {
    }

    /** What a partition's range bound says about its rows: outside the interval, or which of its ends they keep within. */
    record Reach(boolean outside, boolean withinFrom, boolean withinTo) {
        static final Reach UNKNOWN = new Reach(false, false, false);

        /**
         * What the bounds of two levels say together. A leaf's rows lie within the bounds of every level above
         * it, so whatever one level's bound establishes holds for them: each fact of either.
         */
        Reach withFactsOf(Reach other) {
            return new Reach(outside || other.outside, withinFrom || other.withinFrom, withinTo || other.withinTo);
        }
    }

    /** The values of a range bound's two ends, one per key column, as pg_get_expr prints them ({@code '2026-01-01'}, {@code MINVALUE}). */
    record RangeBound(List<String> lower, List<String> upper) {
    }

    /** The comparison operators of the key's operator class, as SQL ({@code <}, or {@code OPERATOR(schema.<)} outside pg_catalog). */
    private record Operators(String less, String lessOrEqual, String greaterOrEqual) {
    }

    private KeyInterval(DSLContext db, Key key, Operators operators, Optional<String> from, Optional<String> to) {
        this.db = db;
        this.key = key;
        this.operators = operators;
        this.from = from;
        this.to = to;
    }

    /**
     * The interval on {@code table}'s range {@code key}, with {@code --from} and {@code --to} checked against
     * the key's type and written as that type prints them.
     */
    static KeyInterval of(DSLContext db, TableRef table, Key key, Split split) {
        Optional<String> from = split.from().map(v -> normalized(db, "--from", v, table, key));
        Optional<String> to = split.to().map(v -> normalized(db, "--to", v, table, key));
        var interval = new KeyInterval(db, key, operators(db, key), from, to);
        if (from.isPresent() && to.isPresent()) {
            DatakitException.check(interval.isTrue(interval.keyed(interval.value(from.get())) + interval.operators.less()
                    + interval.value(to.get())),
                "--from %s is not before --to %s, so no partition could overlap. Give an interval where --from < --to.",
                split.from().get(), split.to().get());
        }
        return interval;
    }

    private static String normalized(DSLContext db, String option, String value, TableRef table, Key key) {
        try {
            return db.resultQuery("SELECT (" + Sql.literal(value) + "::" + key.type() + ")::text").fetchOne(0, String.class);
        } catch (DataAccessException e) {
            throw DatakitException.badInput("%s \"%s\" is not a valid %s, the type of %s, the range partition key of %s. Give a value "
                + "of that type.", option, value, key.declaredType(), TableRef.display(key.column()), table);
        }
    }

    /**
     * The key's operators for strategies 1 ({@code <}), 2 ({@code <=}) and 4 ({@code >=}) of btree, from its
     * operator class's family: the operators that route rows to partitions.
     */
    private static Operators operators(DSLContext db, Key key) {
        Map<Integer, String> byStrategy = new HashMap<>();
        db.resultQuery("""
                SELECT ao.amopstrategy::int,
                       CASE WHEN n.nspname = 'pg_catalog' THEN o.oprname
                            ELSE 'OPERATOR(' || pg_catalog.quote_ident(n.nspname) || '.' || o.oprname || ')' END
                FROM pg_catalog.pg_opclass oc
                JOIN pg_catalog.pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amopmethod = oc.opcmethod
                    AND ao.amoplefttype = oc.opcintype AND ao.amoprighttype = oc.opcintype
                JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr
                JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
                WHERE oc.oid = ?::oid AND ao.amopstrategy IN (1, 2, 4)""", key.operatorClass())
            .forEach(r -> byStrategy.put(r.get(0, Integer.class), " " + r.get(1, String.class) + " "));
        return new Operators(byStrategy.get(1), byStrategy.get(2), byStrategy.get(4));
    }

    Key key() {
        return key;
    }

    /**
     * What a range bound ({@code FOR VALUES FROM (...) TO (...)}) of a level partitioned on this interval's
     * key says about the partition's rows; a DEFAULT says nothing.
     */
    Reach reach(String bound) {
        var values = rangeValues(bound);
        if (values.isEmpty()) {
            return Reach.UNKNOWN;
        }
        List<String> lower = values.get().lower();
        List<String> upper = values.get().upper();
        Optional<String> low = Optional.of(lower.get(0)).filter(v -> !v.equals("MINVALUE") && !v.equals("MAXVALUE"));
        Optional<String> high = Optional.of(upper.get(0)).filter(v -> !v.equals("MINVALUE") && !v.equals("MAXVALUE"));
        // Rows stay below the upper bound's first value only when the bound has no other column to go on with.
        boolean exclusive = upper.stream().skip(1).allMatch("MINVALUE"::equals);
        String below = exclusive ? operators.lessOrEqual() : operators.less();
        var outside = new ArrayList<String>();
        from.ifPresent(f -> high.ifPresent(h -> outside.add(keyed(h) + below + value(f))));
        to.ifPresent(t -> low.ifPresent(l -> outside.add(keyed(l) + operators.greaterOrEqual() + value(t))));
        String withinFrom = from.isEmpty() ? "true"
            : low.map(l -> keyed(l) + operators.greaterOrEqual() + value(from.get())).orElse("false");
        String withinTo = to.isEmpty() ? "true" : high.map(h -> keyed(h) + below + value(to.get())).orElse("false");
        var answer = db.resultQuery("SELECT " + (outside.isEmpty() ? "false" : String.join(" OR ", outside)) + ", " + withinFrom + ", "
            + withinTo).fetchOne();
        return new Reach(answer.get(0, Boolean.class), answer.get(1, Boolean.class), answer.get(2, Boolean.class));
    }

    /** The condition that keeps a partition's rows to the interval where its bounds do not already: none when they do. */
    Optional<String> condition(Reach reach) {
        String column = Sql.quote(key.column()) + key.collation().map(c -> " COLLATE " + c).orElse("");
        var conditions = new ArrayList<String>();
        from.filter(f -> !reach.withinFrom()).ifPresent(f -> conditions.add(column + operators.greaterOrEqual() + value(f)));
        to.filter(t -> !reach.withinTo()).ifPresent(t -> conditions.add(column + operators.less() + value(t)));
        return conditions.isEmpty() ? Optional.empty() : Optional.of(String.join(" AND ", conditions));
    }

    private String value(String normalized) {
        return Sql.literal(normalized) + "::" + key.type();
    }

    /** A bound's value as the key's type, in the key's collation, so it compares as the partitioning does. */
    private String keyed(String boundValue) {
        return "(" + boundValue + ")::" + key.type() + key.collation().map(c -> " COLLATE " + c).orElse("");
    }

    private boolean isTrue(String condition) {
        return Boolean.TRUE.equals(db.resultQuery("SELECT " + condition).fetchOne(0, Boolean.class));
    }

    /**
     * The lower and upper values of a range bound as pg_get_expr prints it
     * ({@code FOR VALUES FROM ('2026-01-01', MINVALUE) TO ('2027-01-01', MINVALUE)}), or none for another
     * bound. Values are split at the commas outside quoted literals, so a literal holding ") TO (" or a
     * comma is one value. pg_get_expr writes a quote inside a literal as two, and never an E'' literal
     * (with standard_conforming_strings off it doubles backslashes instead), so quotes alone delimit them.
     */
    static Optional<RangeBound> rangeValues(String bound) {
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
        return end == bound.length() - 1 ? Optional.of(new RangeBound(lower, upper)) : Optional.empty();
    }

    /** Reads values from {@code start} up to the closing parenthesis outside quotes, whose index it returns. */
    private static int list(String text, int start, List<String> values) {
        var current = new StringBuilder();
        boolean quoted = false;
        int i = start;
        for (; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\'') {
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
