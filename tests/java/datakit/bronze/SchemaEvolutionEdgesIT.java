package datakit.bronze;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Schema evolution in the batch modes at its edges (found by a review that tried to break it): each test is a sequence of
 * source DDL and runs after which bronze equals the source, or the run says why not, or stops with its reason. One source and warehouse for the class; each test has
 * a table of its own in schema rv.
 */
class SchemaEvolutionEdgesIT {
    static SourceAndWarehouse db;

    @BeforeAll
    static void createDatabases() {
        db = SourceAndWarehouse.create("rev_schema", "CREATE SCHEMA rv");
    }

    static Datakits.Run run(String datakit, String table, String... more) {
        var args = new ArrayList<>(List.of("--table", "rv." + table));
        args.addAll(List.of(more));
        return Datakits.run(datakit, db.env(), args.toArray(String[]::new));
    }

    static Datakits.Run merge(String table, String... more) {
        var args = new ArrayList<>(List.of("--cursor-field", "updated_at", "--mode", "merge"));
        args.addAll(List.of(more));
        return run("PostgresIncremental", table, args.toArray(String[]::new));
    }

    static Datakits.Run ok(Datakits.Run run) {
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    static List<List<String>> changes(String table) {
        return db.warehouse().rows("SELECT column_name, change, coalesce(lands_in, '') FROM bronze.schema_changes WHERE stream = 'bronze."
            + table + "' ORDER BY change_id");
    }

    // ---------------------------------------------------------------------------------------------------------------------
    // Incremental merge: a column bronze keeps after a drop or rename comes back in a later run.

    /** DROP COLUMN, a run, then ADD COLUMN of the same name with a DEFAULT: the merge table's held rows must take the default. */
    @Test
    void mergeColumnDroppedThenAddedBackWithADefaultInALaterRun() {
        db.source().execute("""
            CREATE TABLE rv.dropback (id int PRIMARY KEY, note text, updated_at int NOT NULL);
            INSERT INTO rv.dropback SELECT g, 'n' || g, g FROM generate_series(1, 3) g;
            """);
        ok(merge("dropback"));
        db.source().execute("ALTER TABLE rv.dropback DROP COLUMN note", "UPDATE rv.dropback SET updated_at = 10 WHERE id = 3");
        ok(merge("dropback"));
        db.source().execute("ALTER TABLE rv.dropback ADD COLUMN note text DEFAULT 'back'");

        var back = ok(merge("dropback"));

        assertThat(db.warehouse().rows("SELECT id, note FROM bronze.dropback ORDER BY id")).as(back.toString())
            .isEqualTo(db.source().rows("SELECT id, note FROM rv.dropback ORDER BY id"));
    }

    /** RENAME a TO b, a run that updates a row, then RENAME b TO a: the column must be the source's again in every row. */
    @Test
    void mergeColumnRenamedAndRenamedBackInALaterRun() {
        db.source().execute("""
            CREATE TABLE rv.renameback (id int PRIMARY KEY, status text, updated_at int NOT NULL);
            INSERT INTO rv.renameback SELECT g, 's' || g, g FROM generate_series(1, 3) g;
            """);
        ok(merge("renameback"));
        db.source().execute("ALTER TABLE rv.renameback RENAME COLUMN status TO state",
            "UPDATE rv.renameback SET state = 'changed', updated_at = 10 WHERE id = 2");
        ok(merge("renameback"));
        db.source().execute("ALTER TABLE rv.renameback RENAME COLUMN state TO status");

        var back = ok(merge("renameback"));

        assertThat(db.warehouse().rows("SELECT id, status FROM bronze.renameback ORDER BY id")).as(back.toString())
            .isEqualTo(db.source().rows("SELECT id, status FROM rv.renameback ORDER BY id"));
    }

    // ---------------------------------------------------------------------------------------------------------------------
    // xmin merge: the key column renamed.

    /** A key column renamed: rows can no longer be matched, so the run stops with its reason, and the dry run alike. */
    @Test
    void xminMergeKeyColumnRenamed() {
        db.source().execute("""
            CREATE TABLE rv.keyrename (id int PRIMARY KEY, v text);
            INSERT INTO rv.keyrename SELECT g, 'v' || g FROM generate_series(1, 3) g;
            """);
        ok(run("PostgresIncremental", "keyrename", "--sync-mode", "xmin", "--mode", "merge"));
        db.source().execute("ALTER TABLE rv.keyrename RENAME COLUMN id TO order_id", "UPDATE rv.keyrename SET v = 'new' WHERE order_id = 2");

        for (boolean dryRun : List.of(true, false)) {
            var refused = dryRun ? run("PostgresIncremental", "keyrename", "--sync-mode", "xmin", "--mode", "merge", "--dry-run")
                : run("PostgresIncremental", "keyrename", "--sync-mode", "xmin", "--mode", "merge");
            Datakits.assertFailsWithOneLine(refused, 3, "bronze.keyrename is kept one row per key by other columns than this run's key (order_id)");
        }
        assertThat(db.warehouse().count("bronze.keyrename")).isEqualTo(3);
    }

    /** The same, once the old key's index has another name: still refused, never duplicated rows. */
    @Test
    void xminMergeKeyColumnRenamedOnceTheIndexNameIsFree() {
        db.source().execute("""
            CREATE TABLE rv.keyrename2 (id int PRIMARY KEY, v text);
            INSERT INTO rv.keyrename2 SELECT g, 'v' || g FROM generate_series(1, 3) g;
            """);
        ok(run("PostgresIncremental", "keyrename2", "--sync-mode", "xmin", "--mode", "merge"));
        db.source().execute("ALTER TABLE rv.keyrename2 RENAME COLUMN id TO order_id", "UPDATE rv.keyrename2 SET v = 'new' WHERE order_id = 2");
        db.warehouse().execute("ALTER INDEX bronze.keyrename2_bronze_key RENAME TO keyrename2_old_key");

        Datakits.assertFailsWithOneLine(run("PostgresIncremental", "keyrename2", "--sync-mode", "xmin", "--mode", "merge"), 3,
            "bronze.keyrename2 is kept one row per key by other columns than this run's key (order_id)");
        assertThat(db.warehouse().count("bronze.keyrename2")).isEqualTo(3);
    }

    // ---------------------------------------------------------------------------------------------------------------------
    // Variant columns.

    /** A column whose name with __v_<type> is longer than 63 bytes: the second run after the variant was made. */
    @Test
    void mergeVariantOfALongColumnName() {
        String column = "c" + "x".repeat(57);
        db.source().execute("""
            CREATE TABLE rv.longvar (id int PRIMARY KEY, %1$s text, updated_at int NOT NULL);
            INSERT INTO rv.longvar SELECT g, g::text, g FROM generate_series(1, 3) g;
            """.formatted(column));
        ok(merge("longvar"));
        db.source().execute("ALTER TABLE rv.longvar ALTER COLUMN " + column + " TYPE integer USING " + column + "::integer",
            "UPDATE rv.longvar SET updated_at = 10 WHERE id = 2");
        ok(merge("longvar"));
        db.source().execute("UPDATE rv.longvar SET " + column + " = 30, updated_at = 20 WHERE id = 3");

        var third = merge("longvar");

        var soft = new SoftAssertions();
        soft.assertThat(third.exitCode()).as(third.toString()).isZero();
        soft.assertThat(changes("longvar")).as("only the variant is recorded, no 'dropped' of the variant column")
            .extracting(r -> r.get(1)).containsExactly("variant");
        soft.assertAll();
    }

    /** The same in append mode: the variant column must not be said dropped. */
    @Test
    void appendVariantOfALongColumnName() {
        String column = "d" + "x".repeat(57);
        db.source().execute("""
            CREATE TABLE rv.longvara (id int PRIMARY KEY, %1$s text, updated_at int NOT NULL);
            INSERT INTO rv.longvara SELECT g, g::text, g FROM generate_series(1, 3) g;
            """.formatted(column));
        ok(run("PostgresIncremental", "longvara", "--cursor-field", "updated_at", "--mode", "append"));
        db.source().execute("ALTER TABLE rv.longvara ALTER COLUMN " + column + " TYPE integer USING " + column + "::integer",
            "UPDATE rv.longvara SET updated_at = 10 WHERE id = 2");
        ok(run("PostgresIncremental", "longvara", "--cursor-field", "updated_at", "--mode", "append"));
        db.source().execute("UPDATE rv.longvara SET updated_at = 20 WHERE id = 3");

        var third = ok(run("PostgresIncremental", "longvara", "--cursor-field", "updated_at", "--mode", "append"));

        assertThat(changes("longvara")).as(third.toString()).extracting(r -> r.get(1)).containsExactly("variant");
    }

    /** text -> integer (variant) -> text again: the return must be recorded, and rows loaded after it must not keep the variant. */
    @Test
    void mergeVariantThenTheTypeChangesBack() {
        db.source().execute("""
            CREATE TABLE rv.varback (id int PRIMARY KEY, code text, updated_at int NOT NULL);
            INSERT INTO rv.varback SELECT g, g::text, g FROM generate_series(1, 3) g;
            """);
        ok(merge("varback"));
        db.source().execute("ALTER TABLE rv.varback ALTER COLUMN code TYPE integer USING code::integer",
            "UPDATE rv.varback SET updated_at = 10 WHERE id = 2");
        ok(merge("varback"));
        db.source().execute("ALTER TABLE rv.varback ALTER COLUMN code TYPE text USING code::text",
            "UPDATE rv.varback SET code = 'x', updated_at = 20 WHERE id = 3");

        var back = ok(merge("varback", "--json"));

        var soft = new SoftAssertions();
        soft.assertThat(db.warehouse().rows("SELECT id, code FROM bronze.varback ORDER BY id")).as(back.toString())
            .isEqualTo(db.source().rows("SELECT id, code FROM rv.varback ORDER BY id"));
        soft.assertThat(changes("varback")).as("the values of code land in code again: recorded")
            .last().satisfies(r -> assertThat(r.get(0)).isEqualTo("code"), r -> assertThat(r.get(2)).isEqualTo("code"));
        soft.assertThat(db.warehouse().value("SELECT code__v_integer FROM bronze.varback WHERE id = 3"))
            .as("row 3, loaded after the type went back, holds no stale variant value").isNull();
        soft.assertAll();
    }

    /** text -> integer (variant) -> bigint: a row loaded after holds its value in one column only, the one recorded. */
    @Test
    void mergeVariantThenAThirdType() {
        db.source().execute("""
            CREATE TABLE rv.varthird (id int PRIMARY KEY, code text, updated_at int NOT NULL);
            INSERT INTO rv.varthird SELECT g, g::text, g FROM generate_series(1, 3) g;
            """);
        ok(merge("varthird"));
        db.source().execute("ALTER TABLE rv.varthird ALTER COLUMN code TYPE integer USING code::integer",
            "UPDATE rv.varthird SET updated_at = 10 WHERE id = 2");
        ok(merge("varthird"));
        db.source().execute("ALTER TABLE rv.varthird ALTER COLUMN code TYPE bigint",
            "UPDATE rv.varthird SET code = 5000000000, updated_at = 20 WHERE id = 3");

        var third = ok(merge("varthird", "--json"));

        String columns = String.join(",", db.warehouse().rows("SELECT attname FROM pg_attribute WHERE attrelid = 'bronze.varthird'::regclass "
            + "AND attnum > 0 AND NOT attisdropped AND attname LIKE 'code%' ORDER BY attnum").stream().map(r -> r.get(0)).toList());
        var soft = new SoftAssertions();
        soft.assertThat(db.warehouse().value("SELECT row(" + columns + ")::text FROM bronze.varthird WHERE id = 3"))
            .as(third + "\ncolumns " + columns + "; recorded " + changes("varthird") + ": row 3 has one value, in the column last recorded")
            .isIn("(,,5000000000)", "(,5000000000)");
        soft.assertThat(columns).as("integer -> bigint widens the variant column in place (docs: widenings are applied in place)")
            .isEqualTo("code,code__v_integer");
        soft.assertAll();
    }

    // ---------------------------------------------------------------------------------------------------------------------
    // Cursor mode: a column added while no row changed.

    @Test
    void cursorRunWithNoNewRowsAfterAddColumnAgreesWithItsDryRun() {
        db.source().execute("""
            CREATE TABLE rv.quietadd (id int PRIMARY KEY, v text, updated_at int NOT NULL);
            INSERT INTO rv.quietadd SELECT g, 'v' || g, g FROM generate_series(1, 3) g;
            """);
        ok(merge("quietadd"));
        db.source().execute("ALTER TABLE rv.quietadd ADD COLUMN note text DEFAULT 'd'");

        var dryRun = ok(merge("quietadd", "--dry-run"));
        var real = ok(merge("quietadd", "--json"));

        assertThat(dryRun.out()).as("the dry run says it adds note").contains("added note");
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_attribute WHERE attrelid = 'bronze.quietadd'::regclass AND attname = 'note'"))
            .as("the run did what its dry run said:\n" + dryRun.out() + "\n" + real + "\nrecorded " + changes("quietadd")).isEqualTo("1");
    }

    // ---------------------------------------------------------------------------------------------------------------------
    // Values changed by DDL without rows written.

    /** A checkpoint the previous release wrote (columns as a list, no hashes) meets an enum label renamed. */
    @Test
    void mergeCheckpointOfThePreviousReleaseThenAnEnumLabelRenamed() {
        db.source().execute("""
            CREATE TYPE rv.oldck_state AS ENUM ('new', 'shipped');
            CREATE TABLE rv.oldck (id int PRIMARY KEY, status rv.oldck_state, updated_at int NOT NULL);
            INSERT INTO rv.oldck SELECT g, 'shipped', g FROM generate_series(1, 3) g;
            """);
        ok(merge("oldck"));
        db.warehouse().execute("UPDATE bronze.extraction_checkpoints SET cursor_value = jsonb_set(cursor_value, '{columns}', "
            + "(SELECT jsonb_agg(k) FROM jsonb_object_keys(cursor_value -> 'columns') k)) WHERE stream = 'bronze.oldck'");
        db.source().execute("ALTER TYPE rv.oldck_state RENAME VALUE 'shipped' TO 'sent'");

        var after = ok(merge("oldck", "--json"));

        assertThat(after.out()).as("the run says it cannot find changes made before it").contains("\"schema_baseline\":\"the checkpoint "
            + "was written before checkpoints kept a fingerprint");
        db.source().execute("ALTER TYPE rv.oldck_state RENAME VALUE 'sent' TO 'gone'");
        ok(merge("oldck"));
        assertThat(db.warehouse().rows("SELECT id, status FROM bronze.oldck ORDER BY id")).as("from then on, changes are found")
            .isEqualTo(db.source().rows("SELECT id, status::text FROM rv.oldck ORDER BY id"));
    }

    /** The dry run of a run that will refresh values DDL changed says so, as the run does. */
    @Test
    void dryRunOfAValuesChangedRefresh() {
        db.source().execute("""
            CREATE TYPE rv.dryref_state AS ENUM ('new', 'shipped');
            CREATE TABLE rv.dryref (id int PRIMARY KEY, status rv.dryref_state, updated_at int NOT NULL);
            INSERT INTO rv.dryref SELECT g, 'shipped', g FROM generate_series(1, 3) g;
            """);
        ok(merge("dryref"));
        db.source().execute("ALTER TYPE rv.dryref_state RENAME VALUE 'shipped' TO 'sent'");

        var dryRun = ok(merge("dryref", "--dry-run", "--json"));
        var real = ok(merge("dryref", "--json"));

        assertThat(real.out()).contains("values_changed_without_writes");
        assertThat(dryRun.out()).as("dry run:\n%s\nrun:\n%s", dryRun, real).containsAnyOf("values_changed", "refresh", "backfill");
    }


    /** Values changed by DDL, refreshed with --chunk-rows, where the second chunk fails: the refresh is not lost. */
    @Test
    void mergeRefreshWithChunksAndAFailureMidway() {
        db.source().execute("""
            CREATE TYPE rv.chunky_state AS ENUM ('new', 'shipped');
            CREATE TABLE rv.chunky (id int PRIMARY KEY, status rv.chunky_state, updated_at int NOT NULL);
            INSERT INTO rv.chunky SELECT g, 'shipped', g FROM generate_series(1, 3) g;
            """);
        ok(merge("chunky"));
        db.warehouse().execute("""
            CREATE FUNCTION public.chunky_boom() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.id = 5 THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER boom BEFORE INSERT ON bronze.chunky FOR EACH ROW EXECUTE FUNCTION public.chunky_boom();
            """);
        db.source().execute("ALTER TYPE rv.chunky_state RENAME VALUE 'shipped' TO 'sent'",
            "INSERT INTO rv.chunky VALUES (4, 'new', 10), (5, 'new', 11)");
        var failed = merge("chunky", "--chunk-rows", "1");
        assertThat(failed.exitCode()).as(failed.toString()).isNotZero();
        db.warehouse().execute("DROP TRIGGER boom ON bronze.chunky");

        var after = ok(merge("chunky", "--chunk-rows", "1"));

        assertThat(db.warehouse().rows("SELECT id, status FROM bronze.chunky ORDER BY id")).as(failed + "\n" + after)
            .isEqualTo(db.source().rows("SELECT id, status::text FROM rv.chunky ORDER BY id"));
    }

    /** A change committed in the short transaction before a load that then fails: the failed run's record names it. */
    @Test
    void mergeSchemaChangeCommittedThenTheLoadFails() {
        db.source().execute("""
            CREATE TABLE rv.halfway (id int PRIMARY KEY, v text, updated_at int NOT NULL);
            INSERT INTO rv.halfway SELECT g, 'v' || g, g FROM generate_series(1, 3) g;
            """);
        ok(merge("halfway"));
        db.warehouse().execute("""
            CREATE FUNCTION public.halfway_boom() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'boom'; END $$;
            CREATE TRIGGER boom BEFORE INSERT ON bronze.halfway FOR EACH ROW EXECUTE FUNCTION public.halfway_boom();
            """);
        db.source().execute("ALTER TABLE rv.halfway ADD COLUMN note text DEFAULT 'd'", "INSERT INTO rv.halfway VALUES (4, 'v4', 10, 'x')");
        var failed = merge("halfway", "--json");
        assertThat(failed.exitCode()).as(failed.toString()).isNotZero();
        db.warehouse().execute("DROP TRIGGER boom ON bronze.halfway");
        var after = ok(merge("halfway", "--json"));

        var soft = new SoftAssertions();
        soft.assertThat(changes("halfway")).as("recorded once").containsExactly(List.of("note", "added", "note"));
        String recordedBy = db.warehouse().value("SELECT run_id::text FROM bronze.schema_changes WHERE stream = 'bronze.halfway'");
        soft.assertThat(db.warehouse().value("SELECT details->'schema_changes' FROM bronze.extraction_runs WHERE run_id = '" + recordedBy + "'"))
            .as("the run that made the change (status %s) lists it in its details:\n%s\n%s",
                db.warehouse().value("SELECT status FROM bronze.extraction_runs WHERE run_id = '" + recordedBy + "'"), failed, after)
            .isNotNull();
        soft.assertThat(db.warehouse().rows("SELECT id, v, note FROM bronze.halfway ORDER BY id"))
            .isEqualTo(db.source().rows("SELECT id, v, note FROM rv.halfway ORDER BY id"));
        soft.assertAll();
    }

    // ---------------------------------------------------------------------------------------------------------------------
    // Policies, names.

    @Test
    void mergeFreezeThenEvolveAddsAndFillsTheIgnoredColumn() {
        db.source().execute("""
            CREATE TABLE rv.frozen (id int PRIMARY KEY, v text, updated_at int NOT NULL);
            INSERT INTO rv.frozen SELECT g, 'v' || g, g FROM generate_series(1, 3) g;
            """);
        ok(merge("frozen"));
        db.source().execute("ALTER TABLE rv.frozen ADD COLUMN note text DEFAULT 'd'", "UPDATE rv.frozen SET note = 'u', updated_at = 10 WHERE id = 2");
        var frozen = ok(merge("frozen", "--on-schema-change", "freeze"));
        db.source().execute("UPDATE rv.frozen SET note = 'w', updated_at = 20 WHERE id = 1");

        var evolved = ok(merge("frozen"));

        var soft = new SoftAssertions();
        soft.assertThat(db.warehouse().rows("SELECT id, v, note FROM bronze.frozen ORDER BY id")).as(frozen + "\n" + evolved)
            .isEqualTo(db.source().rows("SELECT id, v, note FROM rv.frozen ORDER BY id"));
        soft.assertThat(changes("frozen")).extracting(r -> r.get(1)).containsExactly("ignored", "added");
        soft.assertAll();
    }

    /** freeze leaves a new column out of bronze; then its DEFAULT changes (no value changes): the run must go on. */
    @Test
    void mergeFreezeIgnoredColumnWhoseDefaultThenChanges() {
        db.source().execute("""
            CREATE TABLE rv.frozen2 (id int PRIMARY KEY, v text, updated_at int NOT NULL);
            INSERT INTO rv.frozen2 SELECT g, 'v' || g, g FROM generate_series(1, 3) g;
            """);
        ok(merge("frozen2", "--on-schema-change", "freeze"));
        db.source().execute("ALTER TABLE rv.frozen2 ADD COLUMN note text DEFAULT 'd'", "UPDATE rv.frozen2 SET updated_at = 10 WHERE id = 2");
        ok(merge("frozen2", "--on-schema-change", "freeze"));
        db.source().execute("ALTER TABLE rv.frozen2 ALTER COLUMN note SET DEFAULT 'e'", "UPDATE rv.frozen2 SET updated_at = 20 WHERE id = 3");

        ok(merge("frozen2", "--on-schema-change", "freeze"));
    }

    /** SET DEFAULT changes no stored value: an append run must not say values changed without writes. */
    @Test
    void appendSetDefaultIsNotAValueChange() {
        db.source().execute("""
            CREATE TABLE rv.setdef (id int PRIMARY KEY, v text DEFAULT 'a', updated_at int NOT NULL);
            INSERT INTO rv.setdef SELECT g, 'v' || g, g FROM generate_series(1, 3) g;
            """);
        ok(run("PostgresIncremental", "setdef", "--cursor-field", "updated_at", "--mode", "append"));
        db.source().execute("ALTER TABLE rv.setdef ALTER COLUMN v SET DEFAULT 'b'");

        var after = ok(run("PostgresIncremental", "setdef", "--cursor-field", "updated_at", "--mode", "append"));

        assertThat(after.err()).as(after.toString()).doesNotContain("changed at the source without rows being written");
    }

    @Test
    void mergeQuotedNamesWithCapitalsAndSpaces() {
        db.source().execute("""
            CREATE TABLE rv.quoted ("Id" int PRIMARY KEY, "Total" text, "updated at" int NOT NULL);
            INSERT INTO rv.quoted SELECT g, g::text, g FROM generate_series(1, 3) g;
            """);
        ok(run("PostgresIncremental", "quoted", "--cursor-field", "\"updated at\"", "--mode", "merge"));
        db.source().execute("ALTER TABLE rv.quoted ALTER COLUMN \"Total\" TYPE integer USING \"Total\"::integer",
            "ALTER TABLE rv.quoted ADD COLUMN \"Note X\" text DEFAULT 'n'", "UPDATE rv.quoted SET \"updated at\" = 10 WHERE \"Id\" = 2");

        var after = ok(run("PostgresIncremental", "quoted", "--cursor-field", "\"updated at\"", "--mode", "merge", "--json"));

        assertThat(db.warehouse().rows("SELECT \"Id\", \"Total__v_integer\", \"Note X\" FROM bronze.quoted ORDER BY 1")).as(after.toString())
            .isEqualTo(db.source().rows("SELECT \"Id\", \"Total\", \"Note X\" FROM rv.quoted ORDER BY 1"));
    }

    /** A cursor that narrows (bigint to integer) is not a widening: the checkpoint stops with its reason (documented). */
    @Test
    void cursorThatNarrowsStopsWithItsReason() {
        db.source().execute("""
            CREATE TABLE rv.narrowcur (id int PRIMARY KEY, v text, updated_at bigint NOT NULL);
            INSERT INTO rv.narrowcur SELECT g, 'v' || g, g FROM generate_series(1, 3) g;
            """);
        ok(merge("narrowcur"));
        db.source().execute("ALTER TABLE rv.narrowcur ALTER COLUMN updated_at TYPE integer", "INSERT INTO rv.narrowcur VALUES (4, 'v4', 10)");

        Datakits.assertFailsWithOneLine(merge("narrowcur"), 2, "The checkpoint of bronze.narrowcur cannot be used: its cursor value has "
            + "type bigint, and the column updated_at is now of type integer.");
    }

    // ---------------------------------------------------------------------------------------------------------------------
    // Full extracts.

    /** An append table with a view on it (which the replace refusal itself suggests), then a widening at the source. */
    @Test
    void appendWithAViewThenAWidening() {
        db.source().execute("""
            CREATE TABLE rv.viewed (id int PRIMARY KEY, amount int);
            INSERT INTO rv.viewed SELECT g, g FROM generate_series(1, 3) g;
            """);
        ok(run("PostgresExtract", "viewed", "--mode", "append"));
        db.warehouse().execute("CREATE VIEW public.viewed_amounts AS SELECT id, amount FROM bronze.viewed");
        db.source().execute("ALTER TABLE rv.viewed ALTER COLUMN amount TYPE bigint", "INSERT INTO rv.viewed VALUES (4, 5000000000)");

        var dryRun = run("PostgresExtract", "viewed", "--mode", "append", "--dry-run");
        var real = run("PostgresExtract", "viewed", "--mode", "append");

        assertThat(dryRun.err()).as("refused alike").isEqualTo(real.err());
        Datakits.assertFailsWithOneLine(real, 3, "Cannot widen amount of bronze.viewed in place: public.viewed_amounts depends on it");
    }

    /** Replace after the source narrows a column: the docs say nothing changes; every change of bronze is recorded. */
    @Test
    void replaceAfterANarrowing() {
        db.source().execute("""
            CREATE TABLE rv.narrowrep (id int PRIMARY KEY, amount bigint);
            INSERT INTO rv.narrowrep SELECT g, g FROM generate_series(1, 3) g;
            """);
        ok(run("PostgresExtract", "narrowrep", "--mode", "replace"));
        db.source().execute("ALTER TABLE rv.narrowrep ALTER COLUMN amount TYPE integer");

        var after = ok(run("PostgresExtract", "narrowrep", "--mode", "replace", "--json"));

        String type = db.warehouse().value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'bronze.narrowrep'::regclass "
            + "AND attname = 'amount'");
        assertThat(type.equals("bigint") || !changes("narrowrep").isEmpty())
            .as("bronze.narrowrep.amount is now %s, recorded %s:\n%s", type, changes("narrowrep"), after).isTrue();
    }

    /** Replace: a column dropped, a run, then added back with another type. */
    @Test
    void replaceColumnDroppedThenAddedBackWithAnotherType() {
        db.source().execute("""
            CREATE TABLE rv.repback (id int PRIMARY KEY, note int);
            INSERT INTO rv.repback SELECT g, g FROM generate_series(1, 3) g;
            """);
        ok(run("PostgresExtract", "repback", "--mode", "replace"));
        db.source().execute("ALTER TABLE rv.repback DROP COLUMN note");
        ok(run("PostgresExtract", "repback", "--mode", "replace"));
        db.source().execute("ALTER TABLE rv.repback ADD COLUMN note text DEFAULT 'x'");

        var after = ok(run("PostgresExtract", "repback", "--mode", "replace", "--json"));

        var soft = new SoftAssertions();
        soft.assertThat(db.warehouse().rows("SELECT id, note FROM bronze.repback ORDER BY id")).as(after.toString())
            .isEqualTo(db.source().rows("SELECT id, note FROM rv.repback ORDER BY id"));
        soft.assertThat(changes("repback")).extracting(r -> r.get(1)).as("recorded").containsExactly("dropped", "retyped");
        soft.assertAll();
    }

    // ---------------------------------------------------------------------------------------------------------------------
    // JSON keys (issue 16: "A flattened JSON key whose type changes lands NULL in append and merge, with no signal").

    @Test
    void jsonbMergeFlattenedKeyRetyped() {
        db.source().execute("""
            CREATE TABLE rv.jkey (id int PRIMARY KEY, payload jsonb, updated_at int NOT NULL);
            INSERT INTO rv.jkey SELECT g, jsonb_build_object('n', g), g FROM generate_series(1, 3) g;
            """);
        ok(run("PostgresJsonb", "jkey", "--cursor-field", "updated_at", "--flatten", "payload"));
        db.source().execute("UPDATE rv.jkey SET payload = '{\"n\": \"one\"}', updated_at = 10 WHERE id = 1");

        var after = ok(run("PostgresJsonb", "jkey", "--cursor-field", "updated_at", "--flatten", "payload", "--json"));

        String columns = String.join(", ", db.warehouse().rows("SELECT quote_ident(attname) FROM pg_attribute "
            + "WHERE attrelid = 'bronze.jkey'::regclass AND starts_with(attname, 'payload__') AND NOT attisdropped ORDER BY attnum").stream()
            .map(r -> r.get(0)).toList());
        String flat = db.warehouse().value("SELECT row(" + columns + ")::text FROM bronze.jkey WHERE id = 1");
        assertThat(flat.contains("one") || after.err().contains("payload__n"))
            .as("the string value lands somewhere typed, or the run says it landed NULL; flattened columns of row 1: %s %s\n%s", flat,
                columns, after)
            .isTrue();
    }

    /** --explode child tables in append mode when the parent's key widens. */
    @Test
    void jsonbAppendExplodeWhenTheParentKeyWidens() {
        db.source().execute("""
            CREATE TABLE rv.exploded (id int PRIMARY KEY, tags text[]);
            INSERT INTO rv.exploded SELECT g, ARRAY['a', 'b'] FROM generate_series(1, 2) g;
            """);
        ok(run("PostgresJsonb", "exploded", "--explode", "tags", "--mode", "append"));
        db.source().execute("ALTER TABLE rv.exploded ALTER COLUMN id TYPE bigint", "INSERT INTO rv.exploded VALUES (5000000000, ARRAY['c'])");

        var after = ok(run("PostgresJsonb", "exploded", "--explode", "tags", "--mode", "append", "--json"));

        assertThat(db.warehouse().rows("SELECT id, value FROM bronze.exploded__tags WHERE id = 5000000000")).as(after.toString())
            .containsExactly(List.of("5000000000", "c"));
    }

    // ---------------------------------------------------------------------------------------------------------------------
    // Partitioned, mirror layout.

    @Test
    void partitionedMirrorDropAndRetype() {
        db.source().execute("""
            CREATE TABLE rv.pm (id int NOT NULL, day date NOT NULL, qty int, note text) PARTITION BY RANGE (day);
            CREATE TABLE rv.pm_01 PARTITION OF rv.pm FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
            CREATE TABLE rv.pm_02 PARTITION OF rv.pm FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
            INSERT INTO rv.pm SELECT g, date '2026-01-10' + (g % 2) * 31, g, 'n' || g FROM generate_series(1, 4) g;
            """);
        ok(run("PostgresPartitioned", "pm", "--layout", "mirror"));
        db.source().execute("ALTER TABLE rv.pm DROP COLUMN note", "ALTER TABLE rv.pm ALTER COLUMN qty TYPE text");
        var after = ok(run("PostgresPartitioned", "pm", "--layout", "mirror", "--json"));
        var again = ok(run("PostgresPartitioned", "pm", "--layout", "mirror", "--json"));

        var soft = new SoftAssertions();
        for (String part : List.of("pm_01", "pm_02")) {
            soft.assertThat(db.warehouse().rows("SELECT id, qty, note FROM bronze." + part + " ORDER BY id")).as(after.toString())
                .isEqualTo(db.source().rows("SELECT id, qty, NULL FROM rv." + part + " ORDER BY id"));
            soft.assertThat(changes(part)).extracting(r -> r.get(0) + " " + r.get(1)).as(part).containsExactlyInAnyOrder("note dropped", "qty retyped");
        }
        soft.assertThat(again.err()).as("said once").doesNotContain("WARNING: bronze.pm");
        soft.assertAll();
    }

    /** A change an evolve run followed (a dropped column bronze keeps) is not refused again by fail, in any batch mode. */
    @Test
    void failRefusesOnlyChangesNotFollowedYet() {
        db.source().execute("""
            CREATE TABLE rv.followed (id int NOT NULL, note text, day date NOT NULL DEFAULT '2026-01-01') PARTITION BY RANGE (day);
            CREATE TABLE rv.followed_1 PARTITION OF rv.followed FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
            INSERT INTO rv.followed (id, note) SELECT g, 'n' || g FROM generate_series(1, 3) g;
            """);
        ok(run("PostgresExtract", "followed", "--mode", "append"));
        ok(run("PostgresPartitioned", "followed", "--target-table", "followed_parts"));
        db.source().execute("ALTER TABLE rv.followed DROP COLUMN note");
        Datakits.assertFailsWithOneLine(run("PostgresExtract", "followed", "--mode", "append", "--on-schema-change", "fail"), 3,
            "The columns of rv.followed changed: note is gone (dropped or renamed)");
        ok(run("PostgresExtract", "followed", "--mode", "append"));
        ok(run("PostgresPartitioned", "followed", "--target-table", "followed_parts"));

        ok(run("PostgresExtract", "followed", "--mode", "append", "--on-schema-change", "fail"));
        ok(run("PostgresPartitioned", "followed", "--target-table", "followed_parts", "--on-schema-change", "fail"));
        assertThat(db.warehouse().value("SELECT count(*) FROM bronze.followed WHERE note IS NULL")).isEqualTo("6");
    }
}
