package datakit.source;

import datakit.checkpoint.Position;
import datakit.checkpoint.XidRanges;
import datakit.checkpoint.XminCheckpoint;
import datakit.error.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jooq.impl.DSL;

/**
 * A table read incrementally, in one source snapshot: by a cursor column, in (cursor, key) order so rows
 * sharing a cursor value are never split or lost at a boundary, or by {@code xmin} for tables without a
 * usable cursor. It renders the predicates that select a stretch of that order and the queries that find
 * where stretches end; values are inlined as typed literals ({@code '2026-11-21 10:00:00+00'::timestamp
 * with time zone}), the way PostgreSQL printed them.
 */
public final class IncrementalSource {
    /** Cursor types by OID: timestamp, timestamptz, date, smallint, integer, bigint, numeric, text, varchar, uuid. */
    private static final Set<Long> CURSOR_TYPES = Set.of(1114L, 1184L, 1082L, 21L, 23L, 20L, 1700L, 25L, 1043L, 2950L);
    private static final Set<Long> TIME_TYPES = Set.of(1114L, 1184L, 1082L);

    private record Typed(String name, String type) {
        String literal(String value) {
            return Sql.inline(DSL.inline(value)) + "::" + type;
        }
    }

    private final SourceSession session;
    private final Selection selection;
    private final TableRef table;
    private final Optional<SourceCatalog.Column> cursor;
    /** The key columns that order rows sharing a cursor value (the key without the cursor column). */
    private final List<Typed> keys;
    /** The whole key, which identifies a row. */
    private final List<String> rowKey;
    private final List<String> columns;

    private IncrementalSource(SourceSession session, Selection selection, TableRef table, Optional<SourceCatalog.Column> cursor,
                              List<Typed> keys, List<String> rowKey, List<String> columns) {
        this.session = session;
        this.selection = selection;
        this.table = table;
        this.cursor = cursor;
        this.keys = keys;
        this.rowKey = List.copyOf(rowKey);
        this.columns = columns;
    }

    /** Views carry no NOT NULL constraints: their keys are checked in the data. */
    private void checkNoNullKeys() {
        String anyNull = rowKey.stream().map(k -> Sql.quote(k) + " IS NULL").collect(Collectors.joining(" OR "));
        String rows = session.rows("SELECT count(*) FROM " + table.sql() + " WHERE " + anyNull, selection).get(0).get(0);
        DatakitException.check(rows.equals("0"), ("%s has %s rows with a NULL in the key (%s), which can be neither ordered nor "
            + "merged. Choose key columns without NULLs with --primary-key."), table, rows, String.join(", ", rowKey));
    }

    /**
     * Checks the table, its cursor column ({@code cursorField}, or empty for xmin mode) and its key (the
     * given columns, else the primary key) in the session's snapshot.
     */
    public static IncrementalSource open(SourceSession session, Selection selection, Optional<String> cursorField, List<String> keyColumns) {
        TableRef table = selection.table().orElseThrow(() -> DatakitException.badInput(
            "An incremental load reads a table: give --table. (A --query has no cursor index to follow; postgres-extract copies queries.)"));
        SourceCatalog catalog = session.catalog();
        SourceCatalog.Relation relation = catalog.find(table);
        List<SourceCatalog.Column> columns = catalog.columns(relation);
        Map<String, SourceCatalog.Column> byName = columns.stream().collect(Collectors.toMap(SourceCatalog.Column::name, c -> c));
        String columnList = columns.stream().map(c -> TableRef.display(c.name())).collect(Collectors.joining(", "));

        Optional<SourceCatalog.Column> cursor = cursorField.map(name -> {
            SourceCatalog.Column column = byName.get(name);
            if (column == null) {
                throw DatakitException.badInput("Cursor column %s does not exist in %s. Columns are: %s. Check --cursor-field.",
                    TableRef.display(name), table, columnList);
            }
            DatakitException.check(CURSOR_TYPES.contains(column.baseTypeOid()), ("Cursor column %s of %s is %s, which cannot be a cursor. "
                + "Use a timestamp, timestamptz, date, integer, bigint, numeric, text, varchar or uuid column, or --sync-mode xmin."),
                TableRef.display(name), table, column.type());
            return column;
        });
        if (cursor.isEmpty()) {
            DatakitException.check(relation.kind() == 'r' || relation.kind() == 'p',
                "%s is a view or foreign table, which has no xmin to follow. Give --cursor-field.", table);
        }
        List<String> keyNames = keyColumns.isEmpty() ? catalog.primaryKey(relation) : keyColumns;
        DatakitException.check(!keyNames.isEmpty(), ("%s has no primary key, and an incremental load needs one to order rows that share "
            + "a cursor value and to merge by. Give --primary-key with the columns that identify a row."), table);
        var keys = new ArrayList<Typed>();
        boolean isTable = relation.kind() == 'r' || relation.kind() == 'p';
        for (String name : keyNames) {
            SourceCatalog.Column column = byName.get(name);
            if (column == null) {
                throw DatakitException.badInput("Key column %s does not exist in %s. Columns are: %s. Check --primary-key.",
                    TableRef.display(name), table, columnList);
            }
            // A NULL key can be neither ordered nor merged by: it would be skipped or duplicated silently.
            DatakitException.check(column.notNull() || !isTable, ("Key column %s of %s allows NULL, and a row with a NULL key can be "
                + "neither ordered nor merged. Choose NOT NULL key columns with --primary-key, or make them NOT NULL."),
                TableRef.display(name), table);
            if (cursor.map(c -> !c.name().equals(name)).orElse(true)) {
                keys.add(new Typed(name, column.type()));
            }
        }
        if (!selection.columns().isEmpty()) {
            List<String> missing = Stream.concat(cursor.map(SourceCatalog.Column::name).stream(), keyNames.stream())
                .filter(c -> !selection.columns().contains(c)).toList();
            DatakitException.check(missing.isEmpty(), "--columns must include the cursor and key columns; add %s.",
                String.join(", ", missing.stream().map(TableRef::display).toList()));
        }
        List<String> read = selection.columns().isEmpty() ? columns.stream().map(SourceCatalog.Column::name).toList() : selection.columns();
        var source = new IncrementalSource(session, selection, table, cursor, keys, keyNames, read);
        if (!isTable) {
            source.checkNoNullKeys();
        }
        return source;
    }

    public TableRef table() {
        return table;
    }

    /** The names of the columns read, as the catalog stores them. */
    public List<String> columns() {
        return columns;
    }

    /** The cursor column, or empty in xmin mode. */
    public Optional<String> cursorColumn() {
        return cursor.map(SourceCatalog.Column::name);
    }

    /** The cursor column's type as format_type prints it. */
    public Optional<String> cursorType() {
        return cursor.map(SourceCatalog.Column::type);
    }

    public boolean cursorNullable() {
        return cursor.map(c -> !c.notNull()).orElse(false);
    }

    public boolean timeCursor() {
        return cursor.map(c -> TIME_TYPES.contains(c.baseTypeOid())).orElse(false);
    }

    /** The columns that identify a row (and that a merge upserts by). */
    public List<String> keyColumns() {
        return rowKey;
    }

    /** The key columns that order rows sharing a cursor value: the key, without the cursor column if it is part of it. */
    public List<String> tieColumns() {
        return keys.stream().map(Typed::name).toList();
    }

    /** The stream's --where and --columns as text, to tell whether a checkpoint was taken for the same rows. */
    public String filter() {
        return selection.where().map(w -> "where " + w).orElse("all rows") + "; columns " + String.join(",", columns);
    }

    /** Fails unless {@code value} is a valid cursor value (an --initial-value), naming the option. */
    public void checkCursorValue(String value, String option) {
        try {
            session.rows("SELECT " + cursorTyped().literal(value), selection);
        } catch (DatakitException e) {
            throw DatakitException.badInput("%s \"%s\" is not a valid %s for cursor column %s: %s", option, value,
                cursorTyped().type(), cursorTyped().name(), e.getMessage().replaceFirst("^The source rejected [^:]*: ", ""));
        }
    }

    /** The rows the predicates select (ANDed with the user's --where), planned as a COPY. */
    public ReadPlan read(List<String> predicates) {
        String conditions = Stream.concat(selection.where().stream().map(w -> "(\n" + w + "\n)"), predicates.stream())
            .collect(Collectors.joining(" AND "));
        // The user's selection without its --where (the conditions above hold it): the same columns, flattened
        // keys (as sampled once for the run), JSON text and large objects in every chunk.
        Selection part = selection.where(null);
        return session.plan(conditions.isEmpty() ? part : part.where(conditions));
    }

    /** The key columns of every row the user's --where selects, for finding rows deleted at the source. */
    public ReadPlan readKeys() {
        Selection keysOnly = Selection.table(table).columns(rowKey);
        return session.plan(selection.where().map(keysOnly::where).orElse(keysOnly));
    }

    /** Rows after {@code position} in (cursor, key) order. */
    public String after(Position position) {
        return tuple() + " > " + literals(position);
    }

    /** Rows up to and including {@code position}. */
    public String upTo(Position position) {
        return tuple() + " <= " + literals(position);
    }

    /** Rows whose cursor is at least {@code value} (a first run's --initial-value). */
    public String cursorAtLeast(String value) {
        return quotedCursor() + " >= " + cursorTyped().literal(value);
    }

    /** Rows within {@code lookback} before {@code position} or later: a window re-read for late commits. */
    public String lookback(Position position, Duration lookback) {
        return quotedCursor() + " >= " + cursorTyped().literal(position.cursor()) + " - "
            + Sql.inline(DSL.inline(lookback.toMillis() + " milliseconds")) + "::interval";
    }

    public String cursorIsNull() {
        return quotedCursor() + " IS NULL";
    }

    public String cursorIsNotNull() {
        return quotedCursor() + " IS NOT NULL";
    }

    /** The last row in (cursor, key) order among those the predicates select, if any. */
    public Optional<Position> highest(List<String> predicates) {
        return positions("SELECT " + positionColumns() + " FROM " + table.sql() + where(predicates)
            + " ORDER BY " + order(" DESC") + " LIMIT 1").stream().findFirst();
    }

    /** Every {@code rows}-th position among those the predicates select, in order: where chunks end. */
    public List<Position> boundaries(List<String> predicates, long rows) {
        return positions("SELECT " + positionColumns() + " FROM (SELECT " + order("") + ", row_number() OVER (ORDER BY " + order("")
            + ") AS _bronze_rank FROM " + table.sql() + where(predicates) + ") AS ranked WHERE _bronze_rank % " + rows
            + " = 0 ORDER BY _bronze_rank");
    }

    /** Whether {@code a} comes after {@code b} in (cursor, key) order, by the source's own comparison. */
    public boolean isAfter(Position a, Position b) {
        return "t".equals(session.rows("SELECT " + literals(a) + " > " + literals(b), selection).get(0).get(0));
    }

    /** xmin mode: the session's snapshot, {@code xmin:xmax:in-progress ids}. */
    public String snapshot() {
        return session.rows("SELECT pg_catalog.pg_current_snapshot()::text", selection).get(0).get(0);
    }

    /**
     * xmin mode: what this session's snapshot reads, as a checkpoint: its xmin, and the transactions from
     * there on whose rows it sees, found on the rows themselves (a second pass over the table, needed only
     * while transactions are in progress: with none, the xmin is the snapshot's xmax and no id follows it).
     */
    public XminCheckpoint xminCheckpoint() {
        String snapshot = snapshot();
        long xmin = Long.parseLong(snapshot.split(":")[0]);
        long xmax = Long.parseLong(snapshot.split(":")[1]);
        List<Long> seen = xmin == xmax ? List.of()
            : session.rows(Xmin.idsFrom(table, xmin, xmax), selection).stream().map(row -> Long.parseLong(row.get(0))).toList();
        return new XminCheckpoint(snapshot, Optional.of(XidRanges.of(seen)), filter());
    }

    /**
     * xmin mode: rows last written by a transaction that {@code checkpoint} did not read, their xmin placed
     * in the epoch of the current snapshot (exact while the checkpoint is less than 2^31 transactions old).
     */
    public String notSeenBy(XminCheckpoint checkpoint) {
        boolean multiranges = "t".equals(session.rows("SELECT current_setting('server_version_num')::int >= 140000", selection).get(0).get(0));
        return Xmin.notSeenBy(checkpoint, Long.parseLong(snapshot().split(":")[1]), multiranges);
    }

    /** xmin mode: how many transactions old {@code snapshot} is, against the session's own. */
    public long transactionsSince(String snapshot) {
        return Long.parseLong(snapshot().split(":")[1]) - Long.parseLong(snapshot.split(":")[0]);
    }

    private List<Position> positions(String sql) {
        return session.rows(sql, selection).stream()
            .map(row -> new Position(row.get(0), row.subList(1, row.size()))).toList();
    }

    private String where(List<String> predicates) {
        var all = new ArrayList<String>();
        selection.where().ifPresent(w -> all.add("(\n" + w + "\n)"));
        all.add(cursorIsNotNull());
        all.addAll(predicates);
        return " WHERE " + String.join(" AND ", all);
    }

    /** The cursor and key as text, under names of their own: ORDER BY must not sort by the text forms. */
    private String positionColumns() {
        List<String> columns = Stream.concat(Stream.of(quotedCursor()), keys.stream().map(k -> Sql.quote(k.name()))).toList();
        var selected = new ArrayList<String>();
        for (int i = 0; i < columns.size(); i++) {
            selected.add(columns.get(i) + "::text AS _bronze_position_" + i);
        }
        return String.join(", ", selected);
    }

    private String order(String direction) {
        return Stream.concat(Stream.of(quotedCursor()), keys.stream().map(k -> Sql.quote(k.name())))
            .map(c -> c + direction).collect(Collectors.joining(", "));
    }

    private String tuple() {
        return "(" + Stream.concat(Stream.of(quotedCursor()), keys.stream().map(k -> Sql.quote(k.name())))
            .collect(Collectors.joining(", ")) + ")";
    }

    private String literals(Position position) {
        var values = new ArrayList<String>();
        values.add(cursorTyped().literal(position.cursor()));
        for (int i = 0; i < keys.size(); i++) {
            values.add(keys.get(i).literal(position.keys().get(i)));
        }
        return "(" + String.join(", ", values) + ")";
    }

    private Typed cursorTyped() {
        SourceCatalog.Column column = cursor.orElseThrow(() -> new IllegalStateException("xmin mode has no cursor"));
        return new Typed(column.name(), column.type());
    }

    private String quotedCursor() {
        return Sql.quote(cursorTyped().name());
    }
}
