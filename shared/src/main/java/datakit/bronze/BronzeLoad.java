package datakit.bronze;

import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.sql.Identifiers;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;

/**
 * Writes one load into a bronze table, inside the caller's warehouse transaction:
 * {@link #prepare()} creates what the rows go into and returns the {@code COPY ... FROM STDIN} to stream
 * them with, and {@link #finish()} puts them in place once every row is in.
 *
 * <p>A new table (replace, or the first load of any mode) is created under a private staging name,
 * filled with {@code COPY ... FREEZE}, given its metadata columns as constant defaults (PostgreSQL stores
 * a constant added column once, not per row, so metadata costs no load time), and renamed into place; a
 * replace drops the old table in the same transaction, keeping its grants and comment. Loads into an
 * existing table copy into a temporary table first, then insert (append) or upsert by key (merge) with the
 * metadata values. Statements that lock the bronze table come last (see {@link TableLocks}).
 */
public final class BronzeLoad {
    private static final int MERGE_FILLFACTOR = 90;
    private static final Set<String> SYSTEM_COLUMNS = Set.of("tableoid", "xmin", "cmin", "xmax", "cmax", "ctid");

    private final DSLContext db;
    private final Landing landing;
    private final TableRef target;
    private final BronzeWrite write;
    private final BronzeMetadata metadata;
    private final Optional<BronzeTable> existing;
    private final SchemaEvolution evolution;
    private final TableRef copyTarget;
    private Map<String, Long> rejected = Map.of();
    private List<SchemaChange> recorded = List.of();

    public BronzeLoad(DSLContext db, Landing landing, TableRef target, BronzeWrite write, BronzeMetadata metadata) {
        this.db = db;
        this.landing = landing;
        this.target = target;
        this.write = write;
        this.metadata = metadata;
        this.existing = BronzeTable.inspect(db, target).map(BronzeTable::requireBronze);
        if (write.mode() == WriteMode.REPLACE) {
            existing.ifPresent(BronzeTable::requireNoDependents);
        } else {
            DatakitException.check(existing.filter(BronzeTable::partitioned).isEmpty(), "%s is split into parts by postgres-partitioned, "
                + "so rows cannot be added to it as a whole. Replace it (--mode replace), or load into another --target-table.", target);
        }
        // A change an earlier run followed (a dropped column bronze keeps, values landing in a variant column) is not refused again.
        Predicate<SchemaChange> followed = write.onSchemaChange() == SchemaPolicy.EVOLVE ? change -> false
            : new SchemaChangeLog(db, target, landing.sourceTable().map(TableRef::toString), metadata.runId())::holds;
        this.evolution = SchemaEvolution.of(existing.map(BronzeTable::columns), landing, write.mode(), write.onSchemaChange(), followed);
        refuseWhatCannotBeFollowed();
        // Named after the run and the target, so a run that loads several tables (a parent and its
        // exploded children) stages each apart.
        String tag = "%08x".formatted(target.table().hashCode());
        this.copyTarget = loadsIntoExisting()
            ? TableRef.of("pg_temp", "_bronze_staging_" + tag)
            : target.withTable("_bronze_staging_" + metadata.runId().toString().substring(0, 8) + "_" + tag);
    }

    /** Fails fast, before anything is written, when the landing's columns cannot make a bronze table. */
    public static void checkNames(Landing landing, TableRef target) {
        checkNames(landing.names(), landing.origin(), target);
    }

    /** Fails fast when these source columns cannot make the bronze table {@code target}. */
    public static void checkNames(List<String> columns, String source, TableRef target) {
        DatakitException.check(!BronzeTable.isReserved(target.table()),
            "%s is a bookkeeping table of the bronze schema. Choose another --target-table.", target);
        DatakitException.check(!columns.isEmpty(), "%s has no columns to copy.", source);
        for (String name : columns) {
            DatakitException.check(!BronzeMetadata.isMetadata(name) && !SYSTEM_COLUMNS.contains(name),
                "Source column %s has the name of a %s column of bronze tables. Read it under another name with --query ... AS.",
                TableRef.display(name), SYSTEM_COLUMNS.contains(name) ? "system" : "metadata");
        }
    }

    private boolean loadsIntoExisting() {
        return write.mode() != WriteMode.REPLACE && existing.isPresent();
    }

    /**
     * Values set aside in _bronze_rejects, per column, once finished: text declared JSON that did not
     * parse, large objects missing or over the cap.
     */
    public Map<String, Long> rejected() {
        return rejected;
    }

    public Optional<BronzeTable> existing() {
        return existing;
    }

    /** How the load's columns meet the existing table's: what changes, and where each column lands. */
    public SchemaEvolution evolution() {
        return evolution;
    }

    /**
     * The changes this load recorded in schema_changes (those new for the stream), once {@link #applySchemaChanges} or
     * {@link #finish} ran: for the run to say.
     */
    public List<SchemaChange> recorded() {
        return recorded;
    }

    /** The source's column changes that alter the existing table (none for a new or replaced one). */
    public List<SchemaChange> alterations() {
        return loadsIntoExisting() ? evolution.alterations(existing.get().columns()) : List.of();
    }

    /**
     * What an existing table needs before this load, as statements: the source's column changes
     * ({@link #alterations()}), metadata columns of the mode, the unique index a merge upserts by.
     */
    public List<String> schemaChanges() {
        if (!loadsIntoExisting()) {
            return List.of();
        }
        BronzeTable table = existing.get();
        var changes = new ArrayList<String>();
        for (SchemaChange change : alterations()) {
            String column = Sql.quote(change.landsIn().orElseThrow());
            String type = change.newType().orElseThrow();
            changes.add(table.columns().containsKey(change.landsIn().orElseThrow())
                ? "ALTER TABLE " + target.sql() + " ALTER COLUMN " + column + " TYPE " + type
                : addColumn(change.landsIn().orElseThrow(), type));
        }
        metadata.columns().stream().filter(c -> !table.columns().containsKey(c.name()))
            .forEach(c -> changes.add(addColumn(c.name(), c.type())));
        if (write.uniqueKeys() && !table.hasUniqueKey(write.keys())) {
            changes.add("CREATE UNIQUE INDEX " + Sql.quote(indexName()) + " ON " + target.sql() + " (" + quoted(write.keys()) + ")");
        }
        return changes;
    }

    /**
     * Applies {@link #schemaChanges()} and records them. Run it in a transaction of its own before the load's: they lock
     * the table against readers until commit, which should be a moment, not the whole load. A wider type or a nullable
     * column without rows is harmless if the load then fails, and is recorded with the commit that made it.
     */
    public void applySchemaChanges() {
        List<String> changes = schemaChanges();
        if (!changes.isEmpty()) {
            TableLocks.withShortLocks(db, target, () -> changes.forEach(db::execute));
            recorded = record(alterations());
        }
    }

    /** Creates what the rows go into and returns the COPY statement to stream them with. */
    public String prepare() {
        if (loadsIntoExisting()) {
            DatakitException.check(schemaChanges().isEmpty(), "Apply the schema changes of %s and commit before loading.", target);
            db.execute("CREATE TEMPORARY TABLE " + Sql.quote(copyTarget.table()) + " (" + columnDefinitions(false, ", ") + ") ON COMMIT DROP");
        } else {
            // A table kept one row per key is updated in place by merges: room on each page lets an update
            // stay on its page (a HOT update), without a new index entry.
            db.execute("CREATE TABLE " + copyTarget.sql() + " (" + columnDefinitions(false, ", ") + ")"
                + (write.uniqueKeys() ? " WITH (fillfactor = " + MERGE_FILLFACTOR + ")" : ""));
        }
        return landing.copyInto(copyTarget);
    }

    /**
     * Creates the new table the rows go into for copies from several connections, and returns the COPY statement they
     * stream with. The caller commits the table before they start, so the COPY does not FREEZE (only a table created in
     * the COPY's own transaction can be frozen on load). Empty when the rows go into an existing table.
     */
    public Optional<String> prepareForParallelCopies() {
        if (loadsIntoExisting()) {
            return Optional.empty();
        }
        prepare();
        return Optional.of(landing.copyInto(copyTarget, false));
    }

    /** Where the rows are copied before {@link #finish} puts them in place. */
    public TableRef copyTarget() {
        return copyTarget;
    }

    /**
     * Puts the {@code copiedRows} rows in place and returns how many it wrote (a merge that skips keys
     * writes fewer); the caller then commits.
     */
    public long finish(long copiedRows) {
        var rejects = new Rejects(db, copyTarget, landing, target.schema(), target.toString(), metadata.runId());
        var counts = new LinkedHashMap<String, Long>(JsonTextColumns.parse(rejects));
        counts.putAll(FlattenedValues.check(rejects));
        counts.putAll(LargeObjectColumns.check(rejects));
        rejected = counts;
        var landed = landing.columns().stream().filter(c -> evolution.landsIn().containsKey(c.name())).toList();
        recorded = existing.isPresent() ? concat(recorded, new SchemaChangeLog(db, target, landing.sourceTable().map(TableRef::toString),
            metadata.runId()).record(evolution.changes(), landed)) : List.of();
        if (loadsIntoExisting()) {
            return insertFromStaging();
        }
        // Columns that --on-schema-change freeze does not load were copied only because the COPY sends every column.
        for (SchemaChange ignored : evolution.changes()) {
            if (ignored.kind() == SchemaChange.Kind.IGNORED) {
                db.execute("ALTER TABLE " + copyTarget.sql() + " DROP COLUMN " + Sql.quote(ignored.column()));
            }
        }
        metadata.addColumnsTo(db, copyTarget);
        // The unique index is built on the new table before anything locks the old one.
        String temporaryIndex = "_bronze_key_" + metadata.runId().toString().substring(0, 8);
        if (write.uniqueKeys()) {
            try {
                db.execute("CREATE UNIQUE INDEX " + Sql.quote(temporaryIndex) + " ON " + copyTarget.sql() + " (" + quoted(write.keys()) + ")");
            } catch (DataAccessException e) {
                throw notUnique(e).orElse(e);
            }
        }
        TableLocks.withShortLocks(db, target, () -> {
            existing.ifPresent(old -> {
                TableLocks.copyGrantsAndComment(db, old, copyTarget);
                db.execute("DROP TABLE " + target.sql());
            });
            db.execute("ALTER TABLE " + copyTarget.sql() + " RENAME TO " + Sql.quote(target.table()));
            if (write.uniqueKeys()) {
                db.execute("ALTER INDEX " + TableRef.of(target.schema(), temporaryIndex).sql() + " RENAME TO " + Sql.quote(indexName()));
            }
        });
        return copiedRows;
    }

    private List<SchemaChange> record(List<SchemaChange> changes) {
        return new SchemaChangeLog(db, target, landing.sourceTable().map(TableRef::toString), metadata.runId()).record(changes, List.of());
    }

    private static List<SchemaChange> concat(List<SchemaChange> a, List<SchemaChange> b) {
        var all = new ArrayList<>(a);
        all.addAll(b);
        return List.copyOf(all);
    }

    private long insertFromStaging() {
        String metadataNames = quoted(metadata.columns().stream().map(BronzeMetadata.Column::name).toList());
        String insert = "INSERT INTO " + target.sql() + " (" + quoted(List.copyOf(evolution.landsIn().values())) + ", " + metadataNames
            + ") SELECT " + quoted(List.copyOf(evolution.landsIn().keySet())) + ", " + String.join(", ", metadata.valueExpressions())
            + " FROM " + copyTarget.sql();
        if (write.mode() == WriteMode.APPEND) {
            return db.execute(insert);
        }
        // In key order, the upsert visits the bronze index and heap in order instead of at random.
        insert += " ORDER BY " + quoted(write.keys());
        String conflict = " ON CONFLICT (" + quoted(write.keys()) + ") ";
        try {
            return switch (write.onConflict()) {
                case OVERWRITE -> db.execute(insert + conflict + "DO UPDATE SET " + updateAll());
                case SKIP -> db.execute(insert + conflict + "DO NOTHING");
                case FAIL -> db.execute(insert);
            };
        } catch (DataAccessException e) {
            if ("23505".equals(e.sqlState()) && write.onConflict() == ConflictPolicy.FAIL) {
                throw DatakitException.notReady(("%s already has a row with the key of a row read now, and "
                    + "--on-conflict fail stops the run; nothing of this part was committed (%s). Use --on-conflict "
                    + "overwrite or skip if keys may come again.").formatted(target, SqlErrors.serverMessage(e)), e);
            }
            throw notUnique(e).orElse(e);
        }
    }

    /** A key that is not unique in the source breaks a merge: say so in terms of --primary-key. */
    private Optional<RuntimeException> notUnique(DataAccessException e) {
        if ("21000".equals(e.sqlState()) || "23505".equals(e.sqlState())) {
            return Optional.of(DatakitException.badInput("The key (%s) is not unique in %s, so rows cannot be merged by it: %s. "
                + "Give --primary-key with columns that identify one row.", String.join(", ", write.keys()), landing.origin(),
                SqlErrors.serverMessage(e)));
        }
        return Optional.empty();
    }

    private String updateAll() {
        var assignments = new ArrayList<String>();
        evolution.landsIn().values().stream().filter(c -> !write.keys().contains(c))
            .forEach(c -> assignments.add(Sql.quote(c) + " = excluded." + Sql.quote(c)));
        // A column the source no longer has, or whose values moved to a variant column, stays in bronze, NULL in every row
        // loaded from then on, updated ones too.
        evolution.cleared().forEach(c -> assignments.add(Sql.quote(c) + " = NULL"));
        metadata.columns().forEach(c -> assignments.add(Sql.quote(c.name()) + " = excluded." + Sql.quote(c.name())));
        return String.join(", ", assignments);
    }

    /** The complete bronze table, as it will look after the first load: for the dry run. */
    public String tableDefinition() {
        return "CREATE TABLE " + target.sql() + " (\n  " + columnDefinitions(true, ",\n  ") + "\n)"
            + (write.uniqueKeys() ? " WITH (fillfactor = " + MERGE_FILLFACTOR + ")" : "")
            + (write.uniqueKeys() ? ";\nCREATE UNIQUE INDEX " + Sql.quote(indexName()) + " ON " + target.sql() + " (" + quoted(write.keys()) + ")" : "");
    }

    /**
     * Refuses, before anything is written, the schema changes a kept table cannot follow: a merge key whose columns are not
     * those the table is kept by (a key column renamed, another primary key) or whose values move to a variant column (rows
     * could no longer be matched), and a column to widen in place that views depend on (PostgreSQL refuses to alter it).
     */
    private void refuseWhatCannotBeFollowed() {
        if (!loadsIntoExisting()) {
            return;
        }
        BronzeTable table = existing.get();
        boolean keyedOtherwise = write.uniqueKeys() && !table.uniqueKeys().isEmpty() && !table.hasUniqueKey(write.keys());
        if (keyedOtherwise) {
            throw DatakitException.notReady(("%s is kept one row per key by other columns than this run's key (%s): a key column "
                + "renamed at the source, or another key. Rows can no longer be matched: rebuild %s with --full-refresh, or load "
                + "into another --target-table.").formatted(target, String.join(", ", write.keys()), target));
        }
        List<String> widened = alterations().stream().map(c -> c.landsIn().orElseThrow()).filter(table.columns()::containsKey).toList();
        if (!widened.isEmpty() && !table.dependents().isEmpty()) {
            throw DatakitException.notReady(("Cannot widen %s of %s in place: %s depend%s on it, and PostgreSQL refuses to alter a "
                + "column a view uses. Drop the views, run again, and create them again after the run.").formatted(String.join(", ", widened.stream().map(TableRef::display).toList()), target,
                String.join(", ", table.dependents()), table.dependents().size() == 1 ? "s" : ""));
        }
        for (String key : write.keys()) {
            if (write.uniqueKeys() && evolution.cleared().contains(key)) {
                throw DatakitException.notReady(("Key column %s of %s changed type at the source to one %s cannot hold, so rows "
                    + "can no longer be matched by it: rebuild %s with --full-refresh (or postgres-extract --mode replace).")
                    .formatted(TableRef.display(key), landing.origin(), target, target));
            }
        }
    }

    private String addColumn(String name, String type) {
        return "ALTER TABLE " + target.sql() + " ADD COLUMN IF NOT EXISTS " + Sql.quote(name) + " " + type;
    }

    /** {@code <table>_bronze_key}, cut to fit PostgreSQL's names with a hash of the whole, so long names do not collide. */
    private String indexName() {
        return Identifiers.fit(target.table() + "_bronze_key");
    }

    /**
     * The columns of a new table, or of the staging table: those of the table it replaces first, in their order (a column
     * the source no longer has is kept, NULL), then the landing's new ones.
     *
     * @param withMetadata the bronze table's columns, or (false) the staging table's: no metadata, declared JSON as text
     */
    private String columnDefinitions(boolean withMetadata, String separator) {
        var types = new LinkedHashMap<String, String>();
        if (!loadsIntoExisting()) {
            types.putAll(evolution.rebuiltColumns(existing.map(BronzeTable::columns), landing));
        }
        // The staging table takes every landed column (freeze drops what it does not load once they are in), declared JSON as text.
        landing.columns().forEach(c -> types.put(c.name(),
            withMetadata || !landing.checks().jsonText().contains(c.name()) ? c.bronzeType() : "text"));
        var definitions = types.entrySet().stream().map(c -> Sql.quote(c.getKey()) + " " + c.getValue()).collect(Collectors.toList());
        if (withMetadata) {
            metadata.columns().forEach(c -> definitions.add(Sql.quote(c.name()) + " " + c.type()));
        }
        return String.join(separator, definitions);
    }

    static String quoted(List<String> names) {
        return names.stream().map(Sql::quote).collect(Collectors.joining(", "));
    }
}
