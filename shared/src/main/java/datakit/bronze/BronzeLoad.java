package datakit.bronze;

import datakit.cli.DatakitException;
import datakit.source.ReadPlan;
import datakit.source.SourceColumn;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/**
 * Writes one load into a bronze table, inside the caller's warehouse transaction:
 * {@link #prepare()} runs the DDL and returns the {@code COPY ... FROM STDIN} to stream into, and
 * {@link #finish()} completes the table once every row is in.
 *
 * <p>A new table (replace, or the first append) is created under a private staging name, filled with
 * {@code COPY ... FREEZE}, given its metadata columns as constant defaults (PostgreSQL stores a constant
 * added column once, not per row, so metadata costs no load time), and renamed into place; a replace
 * drops the old table in the same transaction, keeping its grants. Appending to an existing table
 * copies into a temporary table first and inserts from it with the metadata values.
 */
public final class BronzeLoad {
    private static final String LOCK_TIMEOUT = "60s";

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
        checkNames(plan, target);
        this.existing = BronzeTable.inspect(db, target).map(BronzeTable::requireBronze);
        if (mode == WriteMode.REPLACE) {
            existing.ifPresent(BronzeTable::requireNoDependents);
        }
        this.copyTarget = appendsToExisting()
            ? TableRef.of("pg_temp", "_bronze_staging")
            : target.withTable("_bronze_staging_" + metadata.runId().toString().substring(0, 8));
    }

    private boolean appendsToExisting() {
        return mode == WriteMode.APPEND && existing.isPresent();
    }

    /** Creates what the rows go into and returns the COPY statement to stream them with. */
    public String prepare() {
        for (String statement : preparation()) {
            db.execute(statement);
        }
        return "COPY " + copyTarget.sql() + " (" + columnNames() + ") FROM STDIN (FORMAT binary, FREEZE)";
    }

    /** Adds the metadata and puts the rows in place; the caller then commits. */
    public void finish() {
        if (appendsToExisting()) {
            var values = metadata.valueExpressions();
            db.execute("INSERT INTO " + target.sql() + " (" + columnNames() + ", " + metadataNames() + ") SELECT "
                + columnNames() + ", " + String.join(", ", values) + " FROM " + copyTarget.sql());
            return;
        }
        addMetadataColumns();
        if (existing.isPresent()) {
            db.execute("SET LOCAL lock_timeout = '" + LOCK_TIMEOUT + "'");
            copyGrantsAndComment(existing.get());
            db.execute("DROP TABLE " + target.sql());
        }
        db.execute("ALTER TABLE " + copyTarget.sql() + " RENAME TO " + Sql.quote(target.table()));
    }

    /** The statements this load runs before its COPY, for the dry run. */
    public List<String> preparation() {
        var statements = new ArrayList<String>();
        if (!appendsToExisting()) {
            statements.add("CREATE TABLE " + copyTarget.sql() + " (" + columnDefinitions(false, ", ") + ")");
            return statements;
        }
        var columns = existing.get().columns();
        for (SourceColumn c : plan.columns()) {
            String type = columns.get(c.name());
            if (type == null) {
                statements.add("ALTER TABLE " + target.sql() + " ADD COLUMN " + Sql.quote(c.name()) + " " + c.bronzeType());
            } else if (!type.equals(c.bronzeType())) {
                throw DatakitException.badInput("Column %s is %s in the source but %s in %s, so appending could change values. "
                    + "Use --mode replace to rebuild %s with the new type.", TableRef.display(c.name()), c.bronzeType(), type, target, target);
            }
        }
        statements.add("CREATE TEMPORARY TABLE " + Sql.quote(copyTarget.table()) + " (" + columnDefinitions(false, ", ") + ") ON COMMIT DROP");
        return statements;
    }

    /** The complete bronze table, as it will look after the first load: for the dry run. */
    public String tableDefinition() {
        return "CREATE TABLE " + target.sql() + " (\n  " + columnDefinitions(true, ",\n  ") + "\n)";
    }

    public Optional<BronzeTable> existing() {
        return existing;
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

    private String columnNames() {
        return plan.columns().stream().map(c -> Sql.quote(c.name())).collect(Collectors.joining(", "));
    }

    private static String metadataNames() {
        return BronzeMetadata.COLUMNS.stream().map(c -> Sql.quote(c.name())).collect(Collectors.joining(", "));
    }

    private static void checkNames(ReadPlan plan, TableRef target) {
        DatakitException.check(!BronzeTable.RESERVED_NAMES.contains(target.table()),
            "%s is a bookkeeping table of the bronze schema. Choose another --target-table.", target);
        DatakitException.check(!plan.columns().isEmpty(), "%s has no columns to copy.", plan.describe());
        for (SourceColumn c : plan.columns()) {
            DatakitException.check(!BronzeMetadata.isMetadata(c.name()),
                "Source column %s has the name of a bronze metadata column. Read it under another name with --query ... AS.",
                TableRef.display(c.name()));
        }
    }
}
