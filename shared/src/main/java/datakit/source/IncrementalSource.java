package datakit.source;

import datakit.checkpoint.Checkpoint;
import datakit.checkpoint.Position;
import datakit.checkpoint.ReadFilter;
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

/**
 * A table read incrementally, in one source snapshot: by a cursor column, in (cursor, key) order so rows
 * sharing a cursor value are never split or lost at a boundary, or by {@code xmin} for tables without a
 * usable cursor. It checks the table, its cursor and key in the catalog, and runs in the session the
 * queries that find where stretches of that order end; {@link CursorOrder} writes them and the predicates
 * that select a stretch.
 */
public final class IncrementalSource {
    /** Cursor types by OID: timestamp, timestamptz, date, smallint, integer, bigint, numeric, text, varchar, uuid. */
    private static final Set<Long> CURSOR_TYPES = Set.of(1114L, 1184L, 1082L, 21L, 23L, 20L, 1700L, 25L, 1043L, 2950L);
    private static final Set<Long> TIME_TYPES = Set.of(1114L, 1184L, 1082L);

    private final SourceSession session;
    private final Selection selection;
    private final TableRef table;
    private final Optional<SourceCatalog.Column> cursor;
    private final CursorOrder order;
    /** The whole key, which identifies a row. */
    private final List<String> rowKey;
    private final List<String> columns;
    /** What decides the values of the columns read, read once, when a checkpoint first needs it. */
    private SchemaFingerprint schema;

    private IncrementalSource(SourceSession session, Selection selection, TableRef table, Optional<SourceCatalog.Column> cursor,
                              CursorOrder order, List<String> rowKey, List<String> columns) {
        this.session = session;
        this.selection = selection;
        this.table = table;
        this.cursor = cursor;
        this.order = order;
        this.rowKey = List.copyOf(rowKey);
        this.columns = columns;
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
        catalog.checkRenamedFrom(selection);
        List<SourceCatalog.Column> columns = catalog.columns(relation);
        Optional<SourceCatalog.Column> cursor = cursorField.map(name -> cursorColumn(columns, table, name));
        boolean isTable = relation.kind() == 'r' || relation.kind() == 'p';
        if (cursor.isEmpty()) {
            DatakitException.check(isTable, "%s is a view or foreign table, which has no xmin to follow. Give --cursor-field.", table);
        }
        List<String> keyNames = keyColumns.isEmpty() ? catalog.primaryKey(relation) : keyColumns;
        DatakitException.check(!keyNames.isEmpty(), ("%s has no primary key, and an incremental load needs one to order rows that share "
            + "a cursor value and to merge by. Give --primary-key with the columns that identify a row."), table);
        var ties = new ArrayList<CursorOrder.Typed>();
        for (String name : keyNames) {
            SourceCatalog.Column column = column(columns, table, name, "Key", "--primary-key");
            // A NULL key can be neither ordered nor merged by: it would be skipped or duplicated silently.
            DatakitException.check(column.notNull() || !isTable, ("Key column %s of %s allows NULL, and a row with a NULL key can be "
                + "neither ordered nor merged. Choose NOT NULL key columns with --primary-key, or make them NOT NULL."),
                TableRef.display(name), table);
            if (cursor.map(c -> !c.name().equals(name)).orElse(true)) {
                ties.add(new CursorOrder.Typed(name, column.type()));
            }
        }
        checkColumnsRead(selection, cursor, keyNames);
        List<String> read = selection.columns().isEmpty() ? columns.stream().map(SourceCatalog.Column::name).toList() : selection.columns();
        var order = new CursorOrder(cursor.map(c -> new CursorOrder.Typed(c.name(), c.type())), ties);
        var source = new IncrementalSource(session, selection, table, cursor, order, keyNames, read);
        if (!isTable) {
            source.checkNoNullKeys();
        }
        return source;
    }

    private static SourceCatalog.Column cursorColumn(List<SourceCatalog.Column> columns, TableRef table, String name) {
        SourceCatalog.Column column = column(columns, table, name, "Cursor", "--cursor-field");
        DatakitException.check(CURSOR_TYPES.contains(column.baseTypeOid()), ("Cursor column %s of %s is %s, which cannot be a cursor. "
            + "Use a timestamp, timestamptz, date, integer, bigint, numeric, text, varchar or uuid column, or --sync-mode xmin."),
            TableRef.display(name), table, column.type());
        return column;
    }

    /** The column {@code name} of {@code table}, or the error that lists the columns there are ({@code role}: Cursor, Key). */
    private static SourceCatalog.Column column(List<SourceCatalog.Column> columns, TableRef table, String name, String role, String option) {
        return columns.stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow(() -> DatakitException.badInput(
            "%s column %s does not exist in %s. Columns are: %s. Check %s.", role, TableRef.display(name), table,
            columns.stream().map(c -> TableRef.display(c.name())).collect(Collectors.joining(", ")), option));
    }

    private static void checkColumnsRead(Selection selection, Optional<SourceCatalog.Column> cursor, List<String> keyNames) {
        if (!selection.columns().isEmpty()) {
            List<String> missing = Stream.concat(cursor.map(SourceCatalog.Column::name).stream(), keyNames.stream())
                .filter(c -> !selection.columns().contains(c)).toList();
            DatakitException.check(missing.isEmpty(), "--columns must include the cursor and key columns; add %s.",
                String.join(", ", missing.stream().map(TableRef::display).toList()));
        }
    }

    /** Views carry no NOT NULL constraints: their keys are checked in the data. */
    private void checkNoNullKeys() {
        String anyNull = rowKey.stream().map(k -> Sql.quote(k) + " IS NULL").collect(Collectors.joining(" OR "));
        String rows = session.rows("SELECT count(*) FROM " + table.sql() + " WHERE " + anyNull, selection).get(0).get(0);
        DatakitException.check(rows.equals("0"), ("%s has %s rows with a NULL in the key (%s), which can be neither ordered nor "
            + "merged. Choose key columns without NULLs with --primary-key."), table, rows, String.join(", ", rowKey));
    }

    public TableRef table() {
        return table;
    }

    /** The names of the columns read, as the catalog stores them. */
    public List<String> columns() {
        return columns;
    }

    /**
     * The columns read, each with the hash of what decides its values ({@link SchemaFingerprint}), as the session's snapshot
     * sees the catalog: a checkpoint keeps them, so the next run finds values DDL changed without writing rows.
     */
    public Map<String, String> columnSchema() {
        if (schema == null) {
            schema = SchemaFingerprint.read(session, selection);
        }
        return schema.columns();
    }

    /**
     * The columns read whose values may differ from what bronze holds although no row was written since {@code stored} was
     * taken: those whose hash changed (an enum label renamed, a column dropped and added again with a DEFAULT, a type changed
     * with USING), and those its run did not read (a column added, or back after it was dropped or renamed away). Empty for
     * a checkpoint that kept no hashes (see {@link #hasSchemaBaseline}).
     */
    public List<String> valuesChangedSince(Checkpoint stored) {
        Map<String, String> before = stored.columnsRead();
        if (!hasSchemaBaseline(stored)) {
            return List.of();
        }
        return columnSchema().entrySet().stream().filter(c -> !c.getValue().equals(before.get(c.getKey()))).map(Map.Entry::getKey).toList();
    }

    /** Whether {@code stored} kept the schema hashes of its columns (checkpoints written before them did not). */
    public static boolean hasSchemaBaseline(Checkpoint stored) {
        return stored.columnsRead().values().stream().anyMatch(hash -> !hash.isEmpty());
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
        return order.ties().stream().map(CursorOrder.Typed::name).toList();
    }

    /**
     * The stream's --where and the --columns the user gave (not every column read: one added, dropped or renamed at the
     * source must not make the checkpoint unusable), to tell whether a checkpoint was taken for the same rows.
     */
    public ReadFilter filter() {
        return new ReadFilter(selection.where(), selection.columns());
    }

    /** Fails unless {@code value} is a valid cursor value (an --initial-value), naming the option. */
    public void checkCursorValue(String value, String option) {
        try {
            session.rows("SELECT " + order.cursorColumn().literal(value), selection);
        } catch (DatakitException e) {
            throw DatakitException.badInput("%s \"%s\" is not a valid %s for cursor column %s: %s", option, value,
                order.cursorColumn().type(), order.cursorColumn().name(), e.getMessage().replaceFirst("^The source rejected [^:]*: ", ""));
        }
    }

    /** The rows the predicates select (ANDed with the user's --where), planned as a COPY. */
    public ReadPlan read(List<String> predicates) {
        String conditions = ReadSql.conditions(selection.where(), predicates);
        // The user's selection without its --where (the conditions above hold it): the same columns, flattened
        // keys (as sampled once for the run), JSON text and large objects in every chunk.
        Selection part = selection.where(null);
        return session.plan(conditions.isEmpty() ? part : part.where(conditions));
    }

    /** The key columns of every row the user's --where selects, for finding rows deleted at the source. */
    public ReadPlan readKeys() {
        return readKeysAnd(List.of());
    }

    /** The key columns and {@code columns} of every row the user's --where selects, for filling columns bronze just gained. */
    public ReadPlan readKeysAnd(List<String> columns) {
        var read = new ArrayList<>(rowKey);
        columns.stream().filter(c -> !rowKey.contains(c)).forEach(read::add);
        Selection keysOnly = Selection.table(table).columns(read);
        return session.plan(selection.where().map(keysOnly::where).orElse(keysOnly));
    }

    /** Rows after {@code position} in (cursor, key) order. */
    public String after(Position position) {
        return order.after(position);
    }

    /** Rows up to and including {@code position}. */
    public String upTo(Position position) {
        return order.upTo(position);
    }

    /** Rows whose cursor is at least {@code value} (a first run's --initial-value). */
    public String cursorAtLeast(String value) {
        return order.atLeast(value);
    }

    /** Rows within {@code lookback} before {@code position} or later: a window re-read for late commits. */
    public String lookback(Position position, Duration lookback) {
        return order.lookback(position, lookback);
    }

    public String cursorIsNull() {
        return order.isNull();
    }

    String cursorIsNotNull() {
        return order.isNotNull();
    }

    /** The last row in (cursor, key) order among those the predicates select, if any. */
    public Optional<Position> highest(List<String> predicates) {
        return positions(order.highest(table.sql(), where(predicates))).stream().findFirst();
    }

    /** Every {@code rows}-th position among those the predicates select, in order: where chunks end. */
    public List<Position> boundaries(List<String> predicates, long rows) {
        return positions(order.boundaries(table.sql(), where(predicates), rows));
    }

    /** Whether {@code a} comes after {@code b} in (cursor, key) order, by the source's own comparison. */
    public boolean isAfter(Position a, Position b) {
        return "t".equals(session.rows(order.isAfter(a, b), selection).get(0).get(0));
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
        return new XminCheckpoint(snapshot, Optional.of(XidRanges.of(seen)), filter().text(), columnSchema());
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
        return ReadSql.where(selection.where(), Stream.concat(Stream.of(order.isNotNull()), predicates.stream()).toList());
    }
}
