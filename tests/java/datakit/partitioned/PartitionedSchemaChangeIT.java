package datakit.partitioned;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * postgres-partitioned keeps a part only while the values it would read are the ones bronze holds: DDL that changes values
 * without writing rows (an enum label renamed, a column dropped and added again with a DEFAULT, ADD COLUMN ... DEFAULT, a
 * type changed with USING) has every part copied again, and the run says why. One source and warehouse for the class; each
 * test has a table of its own.
 */
class PartitionedSchemaChangeIT {
    static SourceAndWarehouse db;

    @BeforeAll
    static void createDatabases() {
        db = SourceAndWarehouse.create("part_schema", "CREATE SCHEMA sales");
    }

    /** sales.{name}: three partitions by day, three rows in each, its own enum type, {@code note} the last column. */
    static void createOrders(String name) {
        db.source().execute("""
            CREATE TYPE sales.%1$s_status AS ENUM ('new', 'shipped');
            CREATE TABLE sales.%1$s (id int NOT NULL, day date NOT NULL, status sales.%1$s_status, qty int, note text) PARTITION BY RANGE (day);
            CREATE TABLE sales.%1$s_01 PARTITION OF sales.%1$s FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
            CREATE TABLE sales.%1$s_02 PARTITION OF sales.%1$s FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
            CREATE TABLE sales.%1$s_03 PARTITION OF sales.%1$s FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
            INSERT INTO sales.%1$s SELECT g, date '2026-01-10' + (g %% 3) * 31, (ARRAY['new', 'shipped'])[g %% 2 + 1]::sales.%1$s_status,
                g, 'note ' || g FROM generate_series(1, 9) g;
            """.formatted(name));
    }

    static Datakits.Run partitioned(String table, String... more) {
        var args = new ArrayList<>(List.of("--table", "sales." + table));
        args.addAll(List.of(more));
        return Datakits.run("PostgresPartitioned", db.env(), args.toArray(String[]::new));
    }

    static void loaded(String table) {
        var run = partitioned(table);
        assertThat(run.exitCode()).as(run.toString()).isZero();
    }

    /** Each row as text, of the source's columns in the source's order: what bronze must hold of {@code sales.<table>}. */
    static void assertBronzeEqualsSource(String table) {
        String columns = db.source().value("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
            + "WHERE attrelid = 'sales." + table + "'::regclass AND attnum > 0 AND NOT attisdropped");
        String rows = "SELECT row(" + columns + ")::text FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(rows.formatted("bronze." + table))).isEqualTo(db.source().rows(rows.formatted("sales." + table)))
            .hasSize(9);
    }

    static String why(String table) {
        return "schema of sales." + table + " changed at the source since the last load: parts copied again";
    }

    @Test
    void aRerunWithoutDdlKeepsEveryPartAndGivesNoReason() {
        createOrders("still");
        loaded("still");

        var again = partitioned("still", "--json");

        assertThat(again.exitCode()).as(again.toString()).isZero();
        assertThat(again.out()).contains("\"copied\":0", "\"kept\":3").doesNotContain("schema_change", "changed at the source");
        assertBronzeEqualsSource("still");
    }

    @Test
    void aLoadPublishedByAVersionThatKeptNoSchemaFingerprintIsCopiedAgainOnceSayingWhy() {
        createOrders("upgraded");
        loaded("upgraded");
        // As an earlier version left it: its fingerprint made without the schema, no schema hash kept.
        db.warehouse().execute("UPDATE bronze.extraction_checkpoints SET state = (state - 'source_schema' - 'published_source_schema') "
            + "|| '{\"fingerprint\": \"0ld\", \"published_fingerprint\": \"0ld\"}' WHERE stream = 'bronze.upgraded' AND partition_name = '(load)'");

        var once = partitioned("upgraded", "--json");
        var after = partitioned("upgraded", "--json");

        assertThat(once.exitCode()).as(once.toString()).isZero();
        assertThat(once.out()).contains("\"copied\":3", "\"kept\":0", "\"schema_change\":\"the last load of sales.upgraded kept no "
            + "fingerprint of the source's schema (an earlier version made it): parts copied again, once\"");
        assertThat(after.out()).as(after.toString()).contains("\"copied\":0", "\"kept\":3").doesNotContain("schema_change");
        assertBronzeEqualsSource("upgraded");
    }

    @Test
    void anEnumLabelRenamedHasEveryPartCopiedAgainAndTheDryRunAndTheSummarySayWhy() {
        createOrders("relabel");
        loaded("relabel");
        db.source().execute("ALTER TYPE sales.relabel_status RENAME VALUE 'shipped' TO 'sent'");

        var dry = partitioned("relabel", "--dry-run");
        var dryJson = partitioned("relabel", "--dry-run", "--json");
        var again = partitioned("relabel");

        assertThat(again.exitCode()).as(again.toString()).isZero();
        assertBronzeEqualsSource("relabel");
        assertThat(again.out()).as(again.toString()).contains("copied     3", "kept       0", why("relabel"));
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.out()).as(dry.toString()).contains(why("relabel"));
        assertThat(dry.out().lines().filter(l -> l.contains("sales.relabel_0") && l.contains("  copy"))).as(dry.out()).hasSize(3);
        assertThat(dryJson.out()).as(dryJson.toString()).contains("\"schema_change\":\"" + why("relabel") + "\"");
    }

    @Test
    void theLastColumnDroppedAndAddedAgainWithADefaultAndAColumnAddedWithADefaultAreCopiedAgain() {
        createOrders("readd");
        loaded("readd");
        db.source().execute("ALTER TABLE sales.readd DROP COLUMN note", "ALTER TABLE sales.readd ADD COLUMN note text DEFAULT 'x'");

        var readded = partitioned("readd", "--json");

        assertThat(readded.exitCode()).as(readded.toString()).isZero();
        assertBronzeEqualsSource("readd");
        assertThat(readded.out()).contains("\"copied\":3", "\"kept\":0", "\"schema_change\":\"" + why("readd") + "\"");

        db.source().execute("ALTER TABLE sales.readd ADD COLUMN priority int DEFAULT 5");
        var added = partitioned("readd", "--json");

        assertThat(added.exitCode()).as(added.toString()).isZero();
        assertBronzeEqualsSource("readd");
        assertThat(added.out()).contains("\"copied\":3", "\"kept\":0", "\"schema_change\":\"" + why("readd") + "\"");
    }

    @Test
    void aTypeChangedWithUsingThatRewritesTheValuesIsCopiedAgain() {
        createOrders("retype");
        loaded("retype");
        db.source().execute("ALTER TABLE sales.retype ALTER COLUMN qty TYPE bigint USING qty * 10");

        var again = partitioned("retype", "--json");

        assertThat(again.exitCode()).as(again.toString()).isZero();
        assertBronzeEqualsSource("retype");
        assertThat(again.out()).contains("\"copied\":3", "\"kept\":0", "\"schema_change\":\"" + why("retype") + "\"");
    }

    @Test
    void anUnfinishedLoadIsNotResumedOnceTheSchemaChanged() {
        createOrders("halfway");
        // Shard 0 of 2 stages its parts and leaves the load unfinished for shard 1.
        var first = partitioned("halfway", "--shard", "0/2", "--json");
        assertThat(first.out()).as(first.toString()).contains("\"published\":false");
        db.source().execute("ALTER TYPE sales.halfway_status RENAME VALUE 'shipped' TO 'sent'");

        var other = partitioned("halfway", "--shard", "1/2");
        var last = partitioned("halfway", "--shard", "0/2", "--json");

        assertThat(other.exitCode()).as(other.toString()).isZero();
        assertBronzeEqualsSource("halfway");
        assertThat(last.out()).as(last.toString()).contains("\"published\":true");
        assertThat(other.err()).contains("giving up the unfinished load of bronze.halfway",
            "the schema of sales.halfway changed at the source since it began");
    }

    @Test
    void aDroppedColumnIsKeptNullAWideningAndARetypeAreFollowedAndFailStopsBeforeWriting() {
        createOrders("evolving");
        loaded("evolving");
        db.source().execute("ALTER TABLE sales.evolving ADD COLUMN channel text DEFAULT 'web'");
        var refused = partitioned("evolving", "--on-schema-change", "fail");
        Datakits.assertFailsWithOneLine(refused, 3, "The columns of sales.evolving changed: channel is new (text); "
            + "--on-schema-change fail stops the stream before anything is written.");
        db.source().execute("ALTER TABLE sales.evolving DROP COLUMN note, ALTER COLUMN qty TYPE bigint, ALTER COLUMN id TYPE text");
        var dry = partitioned("evolving", "--dry-run");
        assertThat(dry.out()).as(dry.toString()).contains("  schema      bronze.evolving: widened qty from integer to bigint in place",
            "  schema      bronze.evolving: note is no longer in the source (dropped or renamed): kept");

        var run = partitioned("evolving", "--json");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.err()).contains("WARNING: bronze.evolving: note is no longer in the source (dropped or renamed): kept",
            "WARNING: bronze.evolving: widened qty from integer to bigint in place", "WARNING: bronze.evolving: rebuilt id as text (was integer)",
            "WARNING: bronze.evolving: added channel (text)");
        assertThat(db.warehouse().rows("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
            + "'bronze.evolving'::regclass AND attnum > 0 AND attname NOT LIKE '\\_bronze%' ORDER BY attnum")).containsExactly(
            List.of("id", "text"), List.of("day", "date"), List.of("status", "text"), List.of("qty", "bigint"), List.of("note", "text"),
            List.of("channel", "text"));
        assertThat(db.warehouse().value("SELECT count(*) FROM bronze.evolving WHERE note IS NULL")).isEqualTo("9");
        assertThat(db.warehouse().rows("SELECT id, day::text, status, qty::text, channel FROM bronze.evolving ORDER BY id"))
            .isEqualTo(db.source().rows("SELECT id, day::text, status::text, qty::text, channel FROM sales.evolving ORDER BY id"));
        assertThat(db.warehouse().rows("SELECT column_name, change FROM bronze.schema_changes WHERE stream = 'bronze.evolving' "
            + "ORDER BY change_id")).containsExactlyInAnyOrder(List.of("id", "retyped"), List.of("qty", "widened"),
            List.of("channel", "added"), List.of("note", "dropped"));

        var again = partitioned("evolving", "--json");
        assertThat(again.out()).as(again.toString()).contains("\"kept\":3");
        assertThat(again.err()).doesNotContain("WARNING: bronze.evolving:");
        assertThat(db.warehouse().value("SELECT count(*) FROM bronze.evolving WHERE note IS NULL")).isEqualTo("9");
    }
}
