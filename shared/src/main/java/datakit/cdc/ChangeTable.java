package datakit.cdc;

import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
import datakit.cdc.pgoutput.PgOutput;
import datakit.sql.Identifiers;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.jooq.DSLContext;

/**
 * The change table of one source table in bronze, {@code <table>__changes}: a row per change, with the
 * source row's columns and the {@code _cdc_*} columns that say what happened and when. It follows the
 * source's shape as Relation messages announce it:
 * <ul>
 *   <li>a new column is added (earlier changes have NULL in it);</li>
 *   <li>a dropped column stays, NULL in later changes;</li>
 *   <li>a column whose type changed becomes text, the type every value's text form fits, so the stream
 *       never stops on a value the old type cannot hold; earlier values keep their text form.</li>
 * </ul>
 */
final class ChangeTable {
    /** The columns every change table starts with, in order. */
    static final List<String> CDC_COLUMNS = List.of("_cdc_lsn", "_cdc_seq", "_cdc_op", "_cdc_commit_ts", "_cdc_xid", "_cdc_old",
        "_cdc_unknown");
    private static final String CDC_DEFINITIONS = """
        _cdc_lsn pg_lsn NOT NULL, _cdc_seq integer NOT NULL, _cdc_op text NOT NULL, _cdc_commit_ts timestamp with time zone,
        _cdc_xid bigint, _cdc_old jsonb, _cdc_unknown text[]""";

    private final TableRef source;
    private final TableRef ref;
    private final TableRef state;
    private List<String> columns = List.of();
    private List<String> keyColumns = List.of();
    private String copySql = "";

    /**
     * @param source the source table
     * @param state  its bronze table: the snapshot, kept current with --apply
     */
    ChangeTable(TableRef source, TableRef state) {
        this.source = source;
        this.state = state;
        this.ref = state.withTable(Identifiers.fit(state.table() + "__changes"));
    }

    public TableRef source() {
        return source;
    }

    public TableRef ref() {
        return ref;
    }

    public TableRef state() {
        return state;
    }

    /** The tables of {@code tables} whose change table in {@code bronzeSchema} does not exist yet: one query, so a large stream stays quick. */
    static List<TableRef> withoutChangeTable(Connection warehouse, List<TableRef> tables, String bronzeSchema) {
        var byName = new LinkedHashMap<String, TableRef>();
        tables.forEach(t -> byName.put(new ChangeTable(t, TableRef.of(bronzeSchema, t.table())).ref().sql(), t));
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

    String copySql() {
        return copySql;
    }

    /**
     * Creates the change table of a table of the stream before its first change, from what the server will
     * announce of it ({@link CdcSource#relations}), so every table of the stream has one from the run that
     * made the slot on, with the source's types of that moment. With {@code --apply} ({@code applyKey}
     * present) the bronze table is made too when no snapshot loaded it. An existing change table is left as
     * it is: changes still to come may have an older shape, and their Relation messages bring it up to date.
     * Returns what it created, in words.
     */
    public List<String> prepare(DSLContext db, PgOutput.Relation relation, Map<String, String> landing, BronzeMetadata metadata,
                                Optional<List<String>> applyKey) {
        if (BronzeTable.inspect(db, ref).isPresent()) {
            return List.of();
        }
        var done = new ArrayList<>(follow(db, relation, landing, metadata));
        applyKey.ifPresent(key -> done.addAll(StateApply.follow(db, this, key, added -> Map.of()).done()));
        return done;
    }

    /**
     * Creates the table, or brings it to the shape of {@code relation}; {@code landing} gives the bronze
     * type of each source column by name (text for one the source catalog no longer has). Returns what
     * it changed, in words, for the run's summary.
     */
    List<String> follow(DSLContext db, PgOutput.Relation relation, Map<String, String> landing, BronzeMetadata metadata) {
        columns = relation.columns().stream().map(PgOutput.Column::name).toList();
        keyColumns = relation.columns().stream().filter(PgOutput.Column::key).map(PgOutput.Column::name).toList();
        copySql = "COPY " + ref.sql() + " (" + String.join(", ", CDC_COLUMNS) + ", " + BronzeMetadata.MARKER + ", "
            + columns.stream().map(Sql::quote).collect(Collectors.joining(", ")) + ") FROM STDIN";
        var changes = new ArrayList<String>();
        var done = new ArrayList<String>();
        Optional<BronzeTable> existing = BronzeTable.inspect(db, ref).map(BronzeTable::requireBronze);
        if (existing.isEmpty()) {
            String definitions = columns.stream().map(c -> Sql.quote(c) + " " + landing.getOrDefault(c, "text"))
                .collect(Collectors.joining(", "));
            changes.add("CREATE TABLE " + ref.sql() + " (" + CDC_DEFINITIONS + ", " + definitions + ", " + metadataDefinitions(metadata) + ")");
            // Changes arrive in LSN order, so a block range index finds a range of them for almost nothing.
            changes.add("CREATE INDEX " + Sql.quote(Identifiers.fit(ref.table() + "_lsn")) + " ON " + ref.sql() + " USING brin (_cdc_lsn)");
            done.add("created " + ref);
        } else {
            Map<String, String> bronze = existing.get().columns();
            for (String column : columns) {
                String type = landing.getOrDefault(column, "text");
                String now = bronze.get(column);
                if (now == null) {
                    changes.add("ALTER TABLE " + ref.sql() + " ADD COLUMN " + Sql.quote(column) + " " + type);
                    done.add("added " + TableRef.display(column) + " " + type + " to " + ref);
                } else if (!now.equals(type) && !now.equals("text")) {
                    changes.add("ALTER TABLE " + ref.sql() + " ALTER COLUMN " + Sql.quote(column) + " TYPE text USING "
                        + Sql.quote(column) + "::text");
                    done.add(TableRef.display(column) + " of " + ref + " is now text: its type changed from " + now + " to " + type);
                }
            }
        }
        changes.forEach(db::execute);
        return done;
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
