package datakit.cdc;

import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
import datakit.bronze.Landing;
import datakit.bronze.SchemaChange;
import datakit.bronze.SchemaChangeLog;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.cdc.pgoutput.PgOutput;
import datakit.sql.Identifiers;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.jooq.DSLContext;

/**
 * The change table of one source table in bronze, {@code <table>__changes}: a row per change, with the
 * source row's columns and the {@code _cdc_*} columns that say what happened and when. It follows the
 * source's shape as Relation messages announce it, by the rule every mode follows ({@link TableShape}),
 * under the stream's {@code --on-schema-change}:
 * <ul>
 *   <li>a new column is added (earlier changes have NULL in it);</li>
 *   <li>a dropped column stays, NULL in later changes;</li>
 *   <li>a type that widens is applied to the column in place, and a narrower one (an older change still in the
 *       slot) lands in the wider column;</li>
 *   <li>any other type change lands in a variant column beside the old one, {@code <column>__v_<type>}, while
 *       earlier changes keep their values in the old one.</li>
 * </ul>
 * Every change is recorded in schema_changes, in the batch's transaction.
 */
final class ChangeTable {
    /** The columns every change table starts with, in order. */
    static final List<String> CDC_COLUMNS = List.of("_cdc_lsn", "_cdc_seq", "_cdc_op", "_cdc_commit_ts", "_cdc_xid", "_cdc_old",
        "_cdc_unknown");
    private static final String CDC_DEFINITIONS = """
        _cdc_lsn pg_lsn NOT NULL, _cdc_seq integer NOT NULL, _cdc_op text NOT NULL, _cdc_commit_ts timestamp with time zone,
        _cdc_xid bigint, _cdc_old jsonb, _cdc_unknown text[]""";

    private TableRef source;
    private final TableRef ref;
    /** {@link #ref} as users write it, made once: it names the table in a run's counts, change by change. */
    private final String name;
    private final TableRef state;
    private List<String> columns = List.of();
    private List<String> keyColumns = List.of();
    private Landing landing;
    /** Where each source column that lands goes in the change table: itself, or its variant column. */
    private Map<String, String> landsIn = Map.of();
    /** The positions, among {@link #columns}, of those that land: all, unless --on-schema-change freeze leaves new ones out. */
    private int[] landed = new int[0];
    /** With --apply: where each source column lands in the bronze table, and the bronze columns its upserts set NULL. */
    private Map<String, String> stateLandsIn = Map.of();
    private List<String> stateCleared = List.of();
    private String copySql = "";

    /** What following a Relation message did: tables made, in words, and the changes it recorded. */
    record Followed(List<String> done, List<SchemaChange> recorded) {
    }

    /**
     * @param source the source table
     * @param state  its bronze table: the snapshot, kept current with --apply
     */
    ChangeTable(TableRef source, TableRef state) {
        this.source = source;
        this.state = state;
        this.ref = state.withTable(Identifiers.fit(state.table() + "__changes"));
        this.name = ref.toString();
    }

    public TableRef source() {
        return source;
    }

    public TableRef ref() {
        return ref;
    }

    /** The change table as users write it ({@code bronze."Orders__changes"}). */
    String name() {
        return name;
    }

    public TableRef state() {
        return state;
    }

    /**
     * The tables of {@code tables} whose change table does not exist yet ({@code bronze}: each one's bronze table): one query,
     * so a large stream stays quick.
     */
    static List<TableRef> withoutChangeTable(Connection warehouse, List<TableRef> tables, Function<TableRef, TableRef> bronze) {
        var byName = new LinkedHashMap<String, TableRef>();
        tables.forEach(t -> byName.put(new ChangeTable(t, bronze.apply(t)).ref().sql(), t));
        return Sql.using(warehouse).resultQuery("SELECT t FROM unnest(?::text[]) WITH ORDINALITY AS u(t, n) "
                + "WHERE pg_catalog.to_regclass(t) IS NULL ORDER BY n", (Object) byName.keySet().toArray(String[]::new))
            .fetch(0, String.class).stream().map(byName::get).toList();
    }

    /** The source columns of the last Relation message, in the order its rows send them. */
    List<String> columns() {
        return columns;
    }

    /** The replica identity's columns: what a delete sends under REPLICA IDENTITY DEFAULT or USING INDEX. */
    List<String> keyColumns() {
        return keyColumns;
    }

    /** The last Relation message's columns, as bronze takes a load. */
    Landing landing() {
        return landing;
    }

    /** The positions, among {@link #columns()}, of the columns whose values land. */
    int[] landed() {
        return landed;
    }

    /** Whether the values of source column {@code column} land. */
    boolean lands(String column) {
        return landsIn.containsKey(column);
    }

    /** The change table's column that holds source column {@code column}'s values from now on. */
    String column(String column) {
        return landsIn.getOrDefault(column, column);
    }

    /** With --apply, the bronze table's column that holds source column {@code column}'s values from now on. */
    String stateColumn(String column) {
        return stateLandsIn.getOrDefault(column, column);
    }

    /** With --apply, the source columns an upsert of the bronze table sets: those that land in both tables, in order. */
    List<String> applied() {
        return columns.stream().filter(c -> landsIn.containsKey(c) && stateLandsIn.containsKey(c)).toList();
    }

    /** With --apply, the bronze table's columns an upsert sets NULL: those the source no longer has, or whose values moved. */
    List<String> stateCleared() {
        return stateCleared;
    }

    /** With --apply, where the bronze table takes each source column, as {@link StateApply#follow} brought it to the shape. */
    void stateShape(Map<String, String> landsIn, List<String> cleared) {
        this.stateLandsIn = Map.copyOf(landsIn);
        this.stateCleared = List.copyOf(cleared);
    }

    String copySql() {
        return copySql;
    }

    /**
     * Creates the change table of a table of the stream before its first change, from what the server will
     * announce of it ({@link CdcSource#relations}), so every table of the stream has one from the run that
     * made the slot on, with the source's types of that moment. With {@code --apply} ({@code applyKey}
     * present) the bronze table is made too when no snapshot loaded it. An existing change table is left as
     * it is: changes still to come may have an older shape, and their Relation messages bring it up to date.
     * Returns what it did: nothing for an existing change table.
     */
    Optional<StateApply.Followed> prepare(DSLContext db, PgOutput.Relation relation, Map<String, String> types, BronzeMetadata metadata,
                                          Optional<List<String>> applyKey, SchemaPolicy policy, UUID runId) {
        if (BronzeTable.inspect(db, ref).isPresent()) {
            return Optional.empty();
        }
        var done = new ArrayList<>(follow(db, relation, types, metadata, policy, runId).done());
        var followed = applyKey.map(key -> StateApply.follow(db, this, key, added -> Map.of(), policy, runId))
            .orElse(new StateApply.Followed(List.of(), List.of(), List.of()));
        done.addAll(followed.done());
        return Optional.of(new StateApply.Followed(done, followed.warnings(), followed.recorded()));
    }

    /**
     * Creates the table, or brings it to the shape of {@code relation}; {@code types} gives the bronze type of
     * each source column by name (text for one the source catalog no longer has). Fails, before anything is
     * written, when {@code policy} refuses the change.
     */
    Followed follow(DSLContext db, PgOutput.Relation relation, Map<String, String> types, BronzeMetadata metadata, SchemaPolicy policy,
                    UUID runId) {
        columns = relation.columns().stream().map(PgOutput.Column::name).toList();
        keyColumns = relation.columns().stream().filter(PgOutput.Column::key).map(PgOutput.Column::name).toList();
        landing = TableShape.landing(source, columns, types);
        Optional<BronzeTable> existing = BronzeTable.inspect(db, ref).map(BronzeTable::requireBronze);
        Followed followed;
        if (existing.isEmpty()) {
            String definitions = columns.stream().map(c -> Sql.quote(c) + " " + types.get(c)).collect(Collectors.joining(", "));
            db.execute("CREATE TABLE " + ref.sql() + " (" + CDC_DEFINITIONS + ", " + definitions + ", " + metadataDefinitions(metadata) + ")");
            // Changes arrive in LSN order, so a block range index finds a range of them for almost nothing.
            db.execute("CREATE INDEX " + Sql.quote(Identifiers.fit(ref.table() + "_lsn")) + " ON " + ref.sql() + " USING brin (_cdc_lsn)");
            landsIn = columns.stream().collect(Collectors.toMap(c -> c, c -> c));
            followed = new Followed(List.of("created " + ref), List.of());
        } else {
            var shape = TableShape.of(db, ref, sourceColumns(existing.get().columns()), landing, WriteMode.APPEND, policy, runId);
            followed = new Followed(List.of(), shape.alter(db, Map.of()));
            landsIn = shape.evolution().landsIn();
        }
        landed = IntStream.range(0, columns.size()).filter(i -> landsIn.containsKey(columns.get(i))).toArray();
        copySql = "COPY " + ref.sql() + " (" + String.join(", ", CDC_COLUMNS) + ", " + BronzeMetadata.MARKER + ", "
            + Arrays.stream(landed).mapToObj(i -> Sql.quote(landsIn.get(columns.get(i)))).collect(Collectors.joining(", ")) + ") FROM STDIN";
        return followed;
    }

    /**
     * The source table, {@code from} before, has the name {@code metadata} gives now: the rows added from now on say so
     * ({@code _bronze_schema} and {@code _bronze_table} of the change table take their values from its defaults). The rename
     * is recorded for the change table, which it returns, and for the --apply table ({@code applied}).
     */
    List<SchemaChange> renamed(DSLContext db, TableRef from, BronzeMetadata metadata, UUID runId, boolean applied) {
        source = TableRef.of(metadata.sourceSchema().orElseThrow(), metadata.sourceTable().orElseThrow());
        SchemaChange change = SchemaChange.renamed(from, source);
        List<SchemaChange> recorded = List.of();
        if (BronzeTable.inspect(db, ref).isPresent()) {
            List<BronzeMetadata.Column> names = metadata.columns();
            List<String> values = metadata.valueExpressions();
            var defaults = new ArrayList<String>();
            for (int i = 0; i < names.size(); i++) {
                if (List.of("_bronze_schema", "_bronze_table").contains(names.get(i).name())) {
                    defaults.add("ALTER COLUMN " + Sql.quote(names.get(i).name()) + " SET DEFAULT " + values.get(i));
                }
            }
            db.execute("ALTER TABLE " + ref.sql() + " " + String.join(", ", defaults));
            recorded = new SchemaChangeLog(db, ref, Optional.of(source.toString()), runId).record(List.of(change), List.of());
        }
        if (applied && BronzeTable.inspect(db, state).isPresent()) {
            new SchemaChangeLog(db, state, Optional.of(source.toString()), runId).record(List.of(change), List.of());
        }
        return recorded;
    }

    /** Of a bronze table's columns, those that hold the source's: all but the {@code _cdc_} ones (the {@code _bronze_} ones are known). */
    static Map<String, String> sourceColumns(Map<String, String> columns) {
        var source = new LinkedHashMap<>(columns);
        source.keySet().removeAll(CDC_COLUMNS);
        return source;
    }

    /**
     * The metadata columns: the source's names as constant defaults (they never change for a table), the
     * load time as the warehouse transaction's time, and the run id, which every row carries.
     */
    private static String metadataDefinitions(BronzeMetadata metadata) {
        List<BronzeMetadata.Column> names = metadata.columns();
        List<String> values = metadata.valueExpressions();
        var definitions = new ArrayList<String>();
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i).name();
            definitions.add(Sql.quote(name) + " " + names.get(i).type() + (name.equals(BronzeMetadata.MARKER) ? " NOT NULL" : " DEFAULT " + values.get(i)));
        }
        return String.join(", ", definitions);
    }
}
