package datakit.bronze;

import datakit.cli.DatakitException;
import datakit.cli.ExitCode;
import datakit.source.ReadPlan;
import datakit.source.SourceColumn;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;

/**
 * Writes one load into a bronze table, inside the caller's warehouse transaction:
 * {@link #prepare()} creates what the rows go into and returns the {@code COPY ... FROM STDIN} to stream
 * them with, and {@link #finish()} puts them in place once every row is in.
 *
 * <p>A new table (replace, or the first append) is created under a private staging name, filled with
 * {@code COPY ... FREEZE}, given its metadata columns as constant defaults (PostgreSQL stores a constant
 * added column once, not per row, so metadata costs no load time), and renamed into place; a replace
 * drops the old table in the same transaction, keeping its grants and comment. Appending to an existing
 * table copies into a temporary table first and inserts from it with the metadata values. Statements that
 * lock the bronze table come last and wait at most a second at a time, so readers are never queued
 * behind the load for long.
 */
public final class BronzeLoad {
    private static final Duration LOCK_WAIT = Duration.ofSeconds(60);
    private static final Set<String> SYSTEM_COLUMNS = Set.of("tableoid", "xmin", "cmin", "xmax", "cmax", "ctid");

    private final DSLContext db;
    private final ReadPlan plan;
    private final TableRef target;
    private final WriteMode mode;
    private final BronzeMetadata metadata;
    private final Optional<BronzeTable> existing;
    private final TableRef copyTarget;

    public BronzeLoad(DSLContext db, ReadPlan plan, TableRef target, WriteMode mode, BronzeMetadata metadata) {
        this.db = db;
        this.plan = plan;
        this.target = target;
        this.mode = mode;
        this.metadata = metadata;
        this.existing = BronzeTable.inspect(db, target).map(BronzeTable::requireBronze);
        if (mode == WriteMode.REPLACE) {
            existing.ifPresent(BronzeTable::requireNoDependents);
        }
        this.copyTarget = appendsToExisting()
            ? TableRef.of("pg_temp", "_bronze_staging")
            : target.withTable("_bronze_staging_" + metadata.runId().toString().substring(0, 8));
    }

    /** Fails fast, before anything is written, when the plan's columns cannot make a bronze table. */
    public static void checkNames(ReadPlan plan, TableRef target) {
        DatakitException.check(!BronzeTable.RESERVED_NAMES.contains(target.table()),
            "%s is a bookkeeping table of the bronze schema. Choose another --target-table.", target);
        DatakitException.check(!plan.columns().isEmpty(), "%s has no columns to copy.", plan.describe());
        for (SourceColumn c : plan.columns()) {
            DatakitException.check(!BronzeMetadata.isMetadata(c.name()) && !SYSTEM_COLUMNS.contains(c.name()),
                "Source column %s has the name of a %s column of bronze tables. Read it under another name with --query ... AS.",
                TableRef.display(c.name()), SYSTEM_COLUMNS.contains(c.name()) ? "system" : "metadata");
        }
    }

    private boolean appendsToExisting() {
        return mode == WriteMode.APPEND && existing.isPresent();
    }

    public Optional<BronzeTable> existing() {
        return existing;
    }

    /** Creates what the rows go into and returns the COPY statement to stream them with. */
    public String prepare() {
        if (appendsToExisting()) {
            DatakitException.check(schemaChanges().isEmpty(), "Call addNewColumns() and commit before loading into %s.", target);
            checkTypesForAppend();
            db.execute("CREATE TEMPORARY TABLE " + Sql.quote(copyTarget.table()) + " (" + columnDefinitions(false, ", ") + ") ON COMMIT DROP");
        } else {
            db.execute("CREATE TABLE " + copyTarget.sql() + " (" + columnDefinitions(false, ", ") + ")");
        }
        return "COPY " + copyTarget.sql() + " (" + SourceSession.columnList(plan.columns()) + ") FROM STDIN (FORMAT binary, FREEZE)";
    }

    /**
     * Adds the columns the source gained to the bronze table (append only). Run it in a transaction of
     * its own before the load's: ADD COLUMN locks the table against readers until commit, which should
     * be a moment, not the whole load. A nullable column without rows is harmless if the load then fails.
     */
    public void addNewColumns() {
        List<String> changes = schemaChanges();
        if (!changes.isEmpty()) {
            checkTypesForAppend();
            withShortLocks(() -> changes.forEach(db::execute));
        }
    }

    /** Puts the rows in place; the caller then commits. */
    public void finish() {
        if (appendsToExisting()) {
            String columns = SourceSession.columnList(plan.columns());
            db.execute("INSERT INTO " + target.sql() + " (" + columns + ", " + metadataNames() + ") SELECT "
                + columns + ", " + String.join(", ", metadata.valueExpressions()) + " FROM " + copyTarget.sql());
            return;
        }
        addMetadataColumns();
        withShortLocks(() -> {
            existing.ifPresent(old -> {
                copyGrantsAndComment(old);
                db.execute("DROP TABLE " + target.sql());
            });
            db.execute("ALTER TABLE " + copyTarget.sql() + " RENAME TO " + Sql.quote(target.table()));
        });
    }

    /** Columns an append adds to the bronze table because the source gained them. */
    public List<String> schemaChanges() {
        if (!appendsToExisting()) {
            return List.of();
        }
        var columns = existing.get().columns();
        return plan.columns().stream().filter(c -> !columns.containsKey(c.name()))
            .map(c -> "ALTER TABLE " + target.sql() + " ADD COLUMN IF NOT EXISTS " + Sql.quote(c.name()) + " " + c.bronzeType())
            .toList();
    }

    /** The complete bronze table, as it will look after the first load: for the dry run. */
    public String tableDefinition() {
        return "CREATE TABLE " + target.sql() + " (\n  " + columnDefinitions(true, ",\n  ") + "\n)";
    }

    private void checkTypesForAppend() {
        var columns = existing.orElseThrow().columns();
        for (SourceColumn c : plan.columns()) {
            String type = columns.get(c.name());
            if (type != null && !type.equals(c.bronzeType())) {
                throw DatakitException.badInput("Column %s is %s in the source but %s in %s, so appending could change values. "
                    + "Use --mode replace to rebuild %s with the new type.", TableRef.display(c.name()), c.bronzeType(), type, target, target);
            }
        }
    }

    private void addMetadataColumns() {
        var values = metadata.valueExpressions();
        var add = new ArrayList<String>();
        var dropDefault = new ArrayList<String>();
        for (int i = 0; i < BronzeMetadata.COLUMNS.size(); i++) {
            var column = BronzeMetadata.COLUMNS.get(i);
            add.add("ADD COLUMN " + Sql.quote(column.name()) + " " + column.type() + " DEFAULT " + values.get(i));
            dropDefault.add("ALTER COLUMN " + Sql.quote(column.name()) + " DROP DEFAULT");
        }
        // A constant default fills existing rows from the catalog, without rewriting the table;
        // dropping it afterwards keeps those values and leaves no default behind.
        db.execute("ALTER TABLE " + copyTarget.sql() + " " + String.join(", ", add));
        db.execute("ALTER TABLE " + copyTarget.sql() + " " + String.join(", ", dropDefault));
    }

    /**
     * Runs statements that lock the bronze table, waiting at most a second for each try: a reader that
     * arrives meanwhile queues behind us for that second at most, not for a long wait. Tries again for up
     * to a minute, then gives up with nothing changed.
     */
    private void withShortLocks(Runnable statements) {
        long deadline = System.nanoTime() + LOCK_WAIT.toNanos();
        for (int attempt = 1; ; attempt++) {
            db.execute("SAVEPOINT bronze_lock");
            db.execute("SET LOCAL lock_timeout = '1s'");
            try {
                statements.run();
                db.execute("RELEASE SAVEPOINT bronze_lock");
                return;
            } catch (DataAccessException e) {
                if (!"55P03".equals(e.sqlState()) || System.nanoTime() > deadline) {
                    if ("55P03".equals(e.sqlState())) {
                        throw new DatakitException(ExitCode.FAILED, ("Waited %d s for other sessions to let go of %s (a long query "
                            + "or transaction holds it); nothing was changed. Run again when it is free.")
                            .formatted(LOCK_WAIT.toSeconds(), target), e);
                    }
                    throw e;
                }
                db.execute("ROLLBACK TO SAVEPOINT bronze_lock");
                pause(Math.min(1000, 100L * attempt));
            }
        }
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DatakitException(ExitCode.FAILED, "Interrupted while waiting for a lock on a bronze table.", e);
        }
    }

    private void copyGrantsAndComment(BronzeTable old) {
        db.resultQuery("""
                SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
                       a.privilege_type, a.is_grantable
                FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
                WHERE c.oid = ?::oid AND a.grantee <> c.relowner""", old.oid())
            .forEach(g -> {
                String privilege = g.get(1, String.class);
                DatakitException.check(privilege.matches("[A-Z ]+"), "Unexpected privilege %s on %s.", privilege, target);
                String grantee = g.get(0, String.class) == null ? "PUBLIC" : Sql.quote(g.get(0, String.class));
                db.execute("GRANT " + privilege + " ON TABLE " + copyTarget.sql() + " TO " + grantee
                    + (g.get(2, Boolean.class) ? " WITH GRANT OPTION" : ""));
            });
        String comment = db.resultQuery("SELECT pg_catalog.obj_description(?::oid, 'pg_class')", old.oid()).fetchOne(0, String.class);
        if (comment != null) {
            db.execute("COMMENT ON TABLE " + copyTarget.sql() + " IS " + Sql.inline(DSL.inline(comment)));
        }
    }

    private String columnDefinitions(boolean withMetadata, String separator) {
        var definitions = plan.columns().stream().map(c -> Sql.quote(c.name()) + " " + c.bronzeType()).collect(Collectors.toList());
        if (withMetadata) {
            BronzeMetadata.COLUMNS.forEach(c -> definitions.add(Sql.quote(c.name()) + " " + c.type()));
        }
        return String.join(separator, definitions);
    }

    private static String metadataNames() {
        return BronzeMetadata.COLUMNS.stream().map(c -> Sql.quote(c.name())).collect(Collectors.joining(", "));
    }
}
