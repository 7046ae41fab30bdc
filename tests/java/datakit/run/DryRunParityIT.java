package datakit.run;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A dry run decides as the real run does: where the run refuses, the dry run refuses with the same line and exit code,
 * and writes nothing. (postgres-cdc's: CdcIT.aDryRunFailsWhereTheRunWould.)
 */
class DryRunParityIT {
    static final String ITEMS = "CREATE TABLE public.items (id int PRIMARY KEY, v int, updated_at timestamptz NOT NULL DEFAULT now(), "
        + "changed_at timestamptz NOT NULL DEFAULT now())";
    static final String ROWS = "INSERT INTO items (id, v) SELECT g, g FROM generate_series(1, 20) g";

    /** The dry run, refused and having written nothing, then the run itself, refused alike. */
    static void refusedAlike(SourceAndWarehouse db, String datakit, int exitCode, String line, String... args) {
        String before = bronze(db);
        var dryArgs = new ArrayList<>(List.of(args));
        dryArgs.add("--dry-run");
        var dry = Datakits.run(datakit, db.env(), dryArgs.toArray(String[]::new));
        assertThat(bronze(db)).as("the dry run wrote nothing").isEqualTo(before);
        var real = Datakits.run(datakit, db.env(), args);
        Datakits.assertFailsWithOneLine(real, exitCode, line);
        Datakits.assertFailsWithOneLine(dry, exitCode, line);
        assertThat(dry.err()).isEqualTo(real.err());
    }

    /** What the warehouse holds: the bronze tables, the runs, the rows. */
    static String bronze(SourceAndWarehouse db) {
        return db.warehouse().rows("SELECT c.relname::text, c.relfilenode::text FROM pg_class c JOIN pg_namespace n ON n.oid = "
            + "c.relnamespace WHERE n.nspname = 'bronze' AND c.relkind = 'r' ORDER BY 1").toString()
            + db.warehouse().value("SELECT count(*) FROM bronze.extraction_runs") + "/" + db.warehouse().value("SELECT count(*) FROM bronze.items");
    }

    static void ok(SourceAndWarehouse db, String datakit, String... args) {
        var run = Datakits.run(datakit, db.env(), args);
        assertThat(run.exitCode()).as(run.toString()).isZero();
    }

    @Test
    void fullExtract() {
        var db = SourceAndWarehouse.create("parity_full", ITEMS, ROWS);
        ok(db, "PostgresExtract", "--table", "items", "--mode", "append");
        refusedAlike(db, "PostgresExtract", 3, "bronze.items holds the history of append runs, which --mode replace would drop",
            "--table", "items", "--mode", "replace");
        db.source().execute("ALTER TABLE items ALTER COLUMN v TYPE text");
        refusedAlike(db, "PostgresExtract", 3, "The columns of public.items changed: v went from integer to text; --on-schema-change fail",
            "--table", "items", "--mode", "append", "--on-schema-change", "fail");
    }

    @Test
    void incremental() {
        var db = SourceAndWarehouse.create("parity_inc", ITEMS, ROWS);
        ok(db, "PostgresIncremental", "--table", "items", "--cursor-field", "updated_at");
        refusedAlike(db, "PostgresIncremental", 3, "bronze.items is kept one row per key by merge runs, and --mode append would add "
            + "second versions", "--table", "items", "--cursor-field", "updated_at", "--mode", "append");
        refusedAlike(db, "PostgresIncremental", 2, "The checkpoint of bronze.items cannot be used: it follows cursor column "
            + "updated_at, and this run changed_at", "--table", "items", "--cursor-field", "changed_at");
        db.source().execute("ALTER TABLE items ALTER COLUMN v TYPE bigint");
        refusedAlike(db, "PostgresIncremental", 3, "The columns of public.items changed: v went from integer to bigint; --on-schema-change freeze",
            "--table", "items", "--cursor-field", "updated_at", "--on-schema-change", "freeze");
        // A full refresh in merge mode builds the table anew, which a view on it stops.
        db.warehouse().execute("CREATE VIEW public.items_view AS SELECT id FROM bronze.items");
        refusedAlike(db, "PostgresIncremental", 3, "Cannot replace bronze.items: public.items_view depends on it", "--table", "items",
            "--cursor-field", "updated_at", "--full-refresh");
    }

    @Test
    void partitioned() {
        var db = SourceAndWarehouse.create("parity_parts", ITEMS, ROWS);
        ok(db, "PostgresExtract", "--table", "items", "--mode", "append");
        refusedAlike(db, "PostgresPartitioned", 3, "bronze.items holds the history of append runs, which --mode replace would drop",
            "--table", "items", "--chunks", "2");
    }
}
