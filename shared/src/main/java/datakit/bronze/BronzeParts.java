package datakit.bronze;

import datakit.error.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.jooq.DSLContext;

/**
 * The bronze side of a partitioned load. Each part lands in a table of its own, created, filled with
 * {@code COPY ... FREEZE} and committed in its own transaction, so a run stopped half-way keeps every part
 * it finished. Publishing then puts all parts in place in one transaction: in the single layout they
 * become the partitions of one bronze table, partitioned by {@code _bronze_partition}; in the mirror
 * layout each is renamed after its source table. Either way readers see the old load or the new one.
 *
 * <p>The partition column is a constant default (stored once in the catalog) with a CHECK constraint:
 * checking it costs one scan of the part when it is loaded, and lets publishing attach the part
 * without scanning it again while it holds locks.
 */
public final class BronzeParts {
    private static final String PART_CHECK = "_bronze_partition_is_part";

    private final Landing landing;
    private final TableRef target;
    private final Layout layout;
    private final BronzeMetadata metadata;
    private final SchemaPolicy onSchemaChange;
    /** Each bronze table's evolution, worked out once: the tables do not change until the load is published. */
    private final Map<TableRef, Evolved> evolutions = new HashMap<>();
    private final List<Recorded> recorded = new ArrayList<>();

    /** A bronze table's columns before the load, and how the load's columns meet them. */
    private record Evolved(Optional<Map<String, String>> old, SchemaEvolution evolution) {
    }

    /** The schema changes a publish recorded for one bronze table. */
    public record Recorded(TableRef table, List<SchemaChange> changes) {
    }

    /** A part's table, and where it lives once published. */
    public record Placed(String part, TableRef table, TableRef home) {
    }

    public BronzeParts(Landing landing, TableRef target, Layout layout, BronzeMetadata metadata, SchemaPolicy onSchemaChange) {
        this.landing = landing;
        this.target = target;
        this.layout = layout;
        this.metadata = metadata;
        this.onSchemaChange = onSchemaChange;
    }

    /**
     * The bronze table whose columns a part's follow: the one table (single layout), or the part's own (mirror), which
     * keeps the columns the source no longer has, as a replace does ({@link SchemaEvolution}).
     */
    private TableRef bronzeTableOf(TableRef sourceTable) {
        return layout == Layout.SINGLE ? target : target.withTable(sourceTable.table());
    }

    private Evolved evolved(DSLContext db, TableRef bronzeTable) {
        return evolutions.computeIfAbsent(bronzeTable, t -> {
            Optional<Map<String, String>> old = BronzeTable.inspect(db, t).map(BronzeTable::columns);
            // A change an earlier load followed (a dropped column bronze keeps) is not refused again.
            Predicate<SchemaChange> followed = onSchemaChange == SchemaPolicy.EVOLVE ? change -> false
                : new SchemaChangeLog(db, t, landing.sourceTable().map(TableRef::toString), metadata.runId())::holds;
            return new Evolved(old, SchemaEvolution.of(old, landing, WriteMode.REPLACE, onSchemaChange, followed));
        });
    }

    /** The source columns of a part's table, name to type: the bronze table's rebuilt from the landing. */
    private Map<String, String> columnsOf(DSLContext db, TableRef bronzeTable) {
        Evolved evolved = evolved(db, bronzeTable);
        return evolved.evolution().rebuiltColumns(evolved.old(), landing);
    }

    /** The schema changes the publish recorded (those new for each stream), for the run to say. */
    public List<Recorded> recorded() {
        return List.copyOf(recorded);
    }

    /** The table the part numbered {@code index} of load {@code load} is copied into. */
    public TableRef partTable(UUID load, int index) {
        return target.withTable("_bronze_part_%s_%04d".formatted(load.toString().substring(0, 8), index));
    }

    /** Where a part's rows live once published: its own table (single), or one named after its source table (mirror). */
    public TableRef home(TableRef sourceTable, TableRef partTable) {
        return layout == Layout.SINGLE ? partTable : target.withTable(sourceTable.table());
    }

    /**
     * Checks, before anything is loaded, that publishing can work: the tables it would replace are bronze
     * tables no view depends on, and mirrored names are distinct and free.
     *
     * @param sourceTables the source table of each part
     */
    public void checkTargets(DSLContext db, List<TableRef> sourceTables) {
        BronzeLoad.checkNames(landing, target);
        BronzeTable.inspect(db, target).ifPresent(t -> t.requireBronze().requireNoDependents());
        if (layout == Layout.SINGLE) {
            evolved(db, target);
        }
        if (layout == Layout.MIRROR) {
            var seen = new HashSet<String>();
            for (TableRef sourceTable : sourceTables) {
                TableRef home = home(sourceTable, null);
                DatakitException.check(seen.add(home.table()), "Two parts of %s are tables named %s, and --layout mirror names bronze "
                    + "tables after them. Use --layout single.", landing.origin(), TableRef.display(home.table()));
                BronzeLoad.checkNames(landing, home);
                BronzeTable.inspect(db, home).ifPresent(t -> t.requireBronze().requireNoDependents());
                evolved(db, home);
            }
        }
    }

    /**
     * Creates the table of a part of {@code sourceTable} in the caller's transaction and returns the COPY that fills it: the
     * bronze table's columns as the load rebuilds them, and every landed column (the COPY sends them all).
     */
    public String create(DSLContext db, TableRef table, TableRef sourceTable) {
        var columns = new LinkedHashMap<>(columnsOf(db, bronzeTableOf(sourceTable)));
        landing.columns().forEach(c -> columns.putIfAbsent(c.name(), c.bronzeType()));
        db.execute("CREATE TABLE " + table.sql() + " (" + columns.entrySet().stream().map(c -> Sql.quote(c.getKey()) + " " + c.getValue())
            .collect(Collectors.joining(", ")) + ")");
        return landing.copyInto(table);
    }

    /**
     * After the COPY: the columns {@code --on-schema-change freeze} does not load dropped again, the partition column,
     * checked in the single layout, and the metadata columns of this run.
     */
    public void finish(DSLContext db, TableRef table, String part, TableRef sourceTable) {
        for (SchemaChange ignored : evolved(db, bronzeTableOf(sourceTable)).evolution().changes()) {
            if (ignored.kind() == SchemaChange.Kind.IGNORED) {
                db.execute("ALTER TABLE " + table.sql() + " DROP COLUMN " + Sql.quote(ignored.column()));
            }
        }
        String column = Sql.quote(BronzeMetadata.PARTITION.name());
        db.execute("ALTER TABLE " + table.sql() + " ADD COLUMN " + column + " " + BronzeMetadata.PARTITION.type() + " NOT NULL DEFAULT "
            + Sql.literal(part) + (layout == Layout.SINGLE ? " CONSTRAINT " + PART_CHECK + " CHECK (" + column + " = " + Sql.literal(part) + ")" : ""));
        db.execute("ALTER TABLE " + table.sql() + " ALTER COLUMN " + column + " DROP DEFAULT");
        metadata.addColumnsTo(db, table);
    }

    /** Whether a table an earlier load published for a part is still in place, so the part can be kept. */
    public boolean holds(DSLContext db, TableRef published) {
        if (layout == Layout.MIRROR) {
            return BronzeTable.inspect(db, published).filter(t -> t.kind() == 'r' && t.columns().containsKey(BronzeMetadata.MARKER)).isPresent();
        }
        return Boolean.TRUE.equals(db.resultQuery("""
                SELECT EXISTS (SELECT FROM pg_catalog.pg_inherits i
                               WHERE i.inhrelid = to_regclass(?) AND i.inhparent = to_regclass(?))""",
            published.sql(), target.sql()).fetchOne(0, Boolean.class));
    }

    /**
     * Publishes the load in the caller's transaction, which then commits: the loaded parts and the kept
     * ones become the bronze table (or tables), and whatever the previous load published that is not kept
     * is dropped. Grants and comments pass to the tables that replace others.
     *
     * @param previous the tables the previous load published
     * @return where each part now lives
     */
    public Map<String, TableRef> publish(DSLContext db, UUID load, List<Placed> loaded, List<Placed> kept, List<TableRef> previous) {
        var homes = new LinkedHashMap<String, TableRef>();
        loaded.forEach(p -> homes.put(p.part(), p.home()));
        kept.forEach(p -> homes.put(p.part(), p.home()));
        record(db, layout == Layout.SINGLE ? List.of(target) : loaded.stream().map(Placed::home).distinct().toList());
        List<TableRef> obsolete = previous.stream().filter(t -> !homes.containsValue(t)).toList();
        if (layout == Layout.SINGLE) {
            publishSingle(db, load, loaded, kept, obsolete);
        } else {
            publishMirror(db, loaded, homes, obsolete);
        }
        return homes;
    }

    private void publishSingle(DSLContext db, UUID load, List<Placed> loaded, List<Placed> kept, List<TableRef> obsolete) {
        TableRef staging = target.withTable("_bronze_staging_" + load.toString().substring(0, 8));
        var columns = new ArrayList<String>();
        columnsOf(db, target).forEach((name, type) -> columns.add(Sql.quote(name) + " " + type));
        columns.add(Sql.quote(BronzeMetadata.PARTITION.name()) + " " + BronzeMetadata.PARTITION.type() + " NOT NULL");
        metadata.columns().forEach(c -> columns.add(Sql.quote(c.name()) + " " + c.type()));
        db.execute("CREATE TABLE " + staging.sql() + " (" + String.join(", ", columns) + ") PARTITION BY LIST ("
            + Sql.quote(BronzeMetadata.PARTITION.name()) + ")");
        loaded.forEach(p -> attach(db, staging, p));
        TableLocks.withShortLocks(db, target, () -> {
            Optional<BronzeTable> old = BronzeTable.inspect(db, target).map(t -> t.requireBronze().requireNoDependents());
            kept.forEach(p -> {
                db.execute("ALTER TABLE " + target.sql() + " DETACH PARTITION " + p.table().sql());
                attach(db, staging, p);
            });
            old.ifPresent(t -> {
                TableLocks.copyGrantsAndComment(db, t, staging);
                db.execute("DROP TABLE " + target.sql());
            });
            dropObsolete(db, obsolete);
            db.execute("ALTER TABLE " + staging.sql() + " RENAME TO " + Sql.quote(target.table()));
        });
    }

    /** The schema changes publishing would make, per bronze table that exists: for the dry run. */
    public List<Recorded> planned(DSLContext db) {
        return evolutions.entrySet().stream().filter(e -> e.getValue().old().isPresent() && !e.getValue().evolution().changes().isEmpty())
            .map(e -> new Recorded(e.getKey(), e.getValue().evolution().changes())).toList();
    }

    /** Records the schema changes of the bronze tables the load replaces, in the publish's transaction. */
    private void record(DSLContext db, List<TableRef> tables) {
        var landed = landing.columns();
        for (TableRef table : tables) {
            Evolved evolved = evolved(db, table);
            if (evolved.old().isPresent()) {
                List<SchemaChange> changes = new SchemaChangeLog(db, table, landing.sourceTable().map(TableRef::toString), metadata.runId())
                    .record(evolved.evolution().changes(), landed.stream().filter(c -> evolved.evolution().landsIn().containsKey(c.name())).toList());
                if (!changes.isEmpty()) {
                    recorded.add(new Recorded(table, changes));
                }
            }
        }
    }

    private static void attach(DSLContext db, TableRef parent, Placed part) {
        db.execute("ALTER TABLE " + parent.sql() + " ATTACH PARTITION " + part.table().sql() + " FOR VALUES IN (" + Sql.literal(part.part()) + ")");
    }

    private void publishMirror(DSLContext db, List<Placed> loaded, Map<String, TableRef> homes, List<TableRef> obsolete) {
        TableLocks.withShortLocks(db, target, () -> {
            dropObsolete(db, obsolete);
            // The table the stream's earlier single-layout loads wrote, unless a mirrored table takes its name.
            if (!homes.containsValue(target)) {
                BronzeTable.inspect(db, target).ifPresent(t -> db.execute("DROP TABLE " + t.requireBronze().requireNoDependents().ref().sql()));
            }
            for (Placed p : loaded) {
                BronzeTable.inspect(db, p.home()).ifPresent(old -> {
                    TableLocks.copyGrantsAndComment(db, old.requireBronze().requireNoDependents(), p.table());
                    db.execute("DROP TABLE " + p.home().sql());
                });
                db.execute("ALTER TABLE " + p.table().sql() + " RENAME TO " + Sql.quote(p.home().table()));
            }
        });
    }

    private static void dropObsolete(DSLContext db, List<TableRef> obsolete) {
        for (TableRef table : obsolete) {
            BronzeTable.inspect(db, table).ifPresent(t -> db.execute("DROP TABLE " + t.requireBronze().ref().sql()));
        }
    }

    /** Drops the tables of an unfinished load that is given up. */
    public static void discard(DSLContext db, List<TableRef> partTables) {
        partTables.forEach(t -> db.execute("DROP TABLE IF EXISTS " + t.sql()));
    }
}
