package datakit.source;

import datakit.checkpoint.Position;
import datakit.sql.Sql;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jooq.impl.DSL;

/**
 * The (cursor, key) order of an incremental read, as SQL text: the predicates that select a stretch of it and the
 * queries that find where stretches end. Rows sharing a cursor value are ordered by the key, so none is split or
 * lost at a boundary. Values are inlined as typed literals ({@code '2026-11-21 10:00:00+00'::timestamp with time
 * zone}), the way PostgreSQL printed them. xmin mode has no cursor: asking for its text fails.
 *
 * @param cursor the cursor column, or empty in xmin mode
 * @param ties   the key columns that order rows sharing a cursor value (the key without the cursor column)
 */
record CursorOrder(Optional<Typed> cursor, List<Typed> ties) {
    CursorOrder {
        ties = List.copyOf(ties);
    }

    /** A column and its type as format_type prints it. */
    record Typed(String name, String type) {
        String literal(String value) {
            return Sql.literal(value) + "::" + type;
        }
    }

    Typed cursorColumn() {
        return cursor.orElseThrow(() -> new IllegalStateException("xmin mode has no cursor"));
    }

    /** Rows after {@code position}. */
    String after(Position position) {
        return tuple() + " > " + literals(position);
    }

    /** Rows up to and including {@code position}. */
    String upTo(Position position) {
        return tuple() + " <= " + literals(position);
    }

    /** Rows whose cursor is at least {@code value}. */
    String atLeast(String value) {
        return quotedCursor() + " >= " + cursorColumn().literal(value);
    }

    /** Rows within {@code lookback} before {@code position} or later. */
    String lookback(Position position, Duration lookback) {
        return quotedCursor() + " >= " + cursorColumn().literal(position.cursor()) + " - "
            + Sql.inline(DSL.inline(lookback.toMillis() + " milliseconds")) + "::interval";
    }

    String isNull() {
        return quotedCursor() + " IS NULL";
    }

    String isNotNull() {
        return quotedCursor() + " IS NOT NULL";
    }

    /** A SELECT of whether {@code a} comes after {@code b}, by the source's own comparison ({@code t} or {@code f}). */
    String isAfter(Position a, Position b) {
        return "SELECT " + literals(a) + " > " + literals(b);
    }

    /** The last position of the rows of {@code from} that {@code where} (with its keyword) selects: one row, or none. */
    String highest(String from, String where) {
        return "SELECT " + positionColumns() + " FROM " + from + where + " ORDER BY " + order(" DESC") + " LIMIT 1";
    }

    /** Every {@code rows}-th position among the rows of {@code from} that {@code where} selects, in order. */
    String boundaries(String from, String where, long rows) {
        return "SELECT " + positionColumns() + " FROM (SELECT " + order("") + ", row_number() OVER (ORDER BY " + order("")
            + ") AS _bronze_rank FROM " + from + where + ") AS ranked WHERE _bronze_rank % " + rows + " = 0 ORDER BY _bronze_rank";
    }

    /** The cursor and key as text, under names of their own: ORDER BY must not sort by the text forms. */
    private String positionColumns() {
        List<String> columns = quotedColumns().toList();
        var selected = new ArrayList<String>();
        for (int i = 0; i < columns.size(); i++) {
            selected.add(columns.get(i) + "::text AS _bronze_position_" + i);
        }
        return String.join(", ", selected);
    }

    private String order(String direction) {
        return quotedColumns().map(c -> c + direction).collect(Collectors.joining(", "));
    }

    private String tuple() {
        return "(" + quotedColumns().collect(Collectors.joining(", ")) + ")";
    }

    private Stream<String> quotedColumns() {
        return Stream.concat(Stream.of(quotedCursor()), ties.stream().map(k -> Sql.quote(k.name())));
    }

    private String literals(Position position) {
        var values = new ArrayList<String>();
        values.add(cursorColumn().literal(position.cursor()));
        for (int i = 0; i < ties.size(); i++) {
            values.add(ties.get(i).literal(position.keys().get(i)));
        }
        return "(" + String.join(", ", values) + ")";
    }

    private String quotedCursor() {
        return Sql.quote(cursorColumn().name());
    }
}
