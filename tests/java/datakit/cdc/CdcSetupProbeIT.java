package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Review probes for the CDC set-up merge (issue 14 items 5, 6, 18, 20): each asserts what a correct run gives, and each
 * fails on 720749a (see the review report).
 */
class CdcSetupProbeIT {
    TestDatabase source;
    TestDatabase warehouse;
    String slot;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("cdcp_src");
        warehouse = TestPostgres.createDatabase("cdcp_wh");
        slot = "s_" + source.name();
    }

    @AfterEach
    void dropSlot() {
        source.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    }

    Map<String, String> env() {
        return Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
    }

    Datakits.Run cdc(String... args) {
        var all = new ArrayList<>(List.of("--slot", slot));
        all.addAll(List.of(args));
        return Datakits.run("PostgresCdc", env(), all.toArray(String[]::new));
    }

    Datakits.Run ok(String... args) {
        var run = cdc(args);
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    static final String EVENTS = "SELECT id::text, at::text, v FROM %s ORDER BY 1, 2, 3";

    void events() {
        source.execute("""
            CREATE TABLE public.events (id int, at int, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE public.events_a PARTITION OF events FOR VALUES FROM (0) TO (10);
            CREATE TABLE public.events_b PARTITION OF events FOR VALUES FROM (10) TO (20);
            INSERT INTO events VALUES (1, 1, 'one'), (2, 12, 'two'), (3, 3, 'three');""");
    }

    @Test
    void truncateOfOnePartitionReachesTheApplyTable() {
        events();
        ok("--table", "events", "--apply");
        source.execute("TRUNCATE events_a", "INSERT INTO events VALUES (4, 14, 'four')");
        var run = ok("--table", "events", "--apply");
        assertThat(warehouse.rows(EVENTS.formatted("bronze.events"))).as(run.toString()).isEqualTo(source.rows(EVENTS.formatted("events")));
    }

    @Test
    void detachedPartitionRowsLeaveTheApplyTableOrTheRunSaysSo() {
        events();
        ok("--table", "events", "--apply");
        source.execute("ALTER TABLE events DETACH PARTITION events_b", "INSERT INTO events VALUES (4, 4, 'four')");
        var run = ok("--table", "events", "--apply");
        assertThat(warehouse.rows(EVENTS.formatted("bronze.events"))).as(run.toString()).isEqualTo(source.rows(EVENTS.formatted("events")));
    }

    /** The root is REPLICA IDENTITY FULL without a key (accepted), its partitions key by their own primary keys. */
    @Test
    void rootFullWithoutKeyOverPartitionsWithPrimaryKeys() {
        source.execute("""
            CREATE TABLE public.events (id int, at int, v text) PARTITION BY RANGE (at);
            ALTER TABLE events REPLICA IDENTITY FULL;
            CREATE TABLE public.events_a PARTITION OF events (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (10);
            INSERT INTO events VALUES (1, 1, 'one'), (3, 3, 'three');""");
        var first = cdc("--table", "events", "--apply");
        if (first.exitCode() != 0) {
            assertThat(first.exitCode()).as(first.toString()).isEqualTo(2); // refused up front is fine
            return;
        }
        source.execute("UPDATE events SET v = 'uno' WHERE id = 1", "DELETE FROM events WHERE id = 3");
        var run = ok("--table", "events", "--apply");
        assertThat(warehouse.rows(EVENTS.formatted("bronze.events"))).as(run.toString()).isEqualTo(source.rows(EVENTS.formatted("events")));
        assertThat(warehouse.rows("SELECT _cdc_op, _cdc_old::text FROM bronze.events__changes WHERE _cdc_op = 'delete'"))
            .as("the delete's old row claims NULLs the source never had").containsExactly(List.of("delete", "{\"id\": \"3\"}"));
    }

    /** The root keys by its primary key, a partition by another unique index (REPLICA IDENTITY USING INDEX). */
    @Test
    void partitionWithAnotherReplicaIdentityIndex() {
        source.execute("""
            CREATE TABLE public.events (id int, at int, v text, code text NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE public.events_a PARTITION OF events FOR VALUES FROM (0) TO (10);
            CREATE UNIQUE INDEX events_a_code ON events_a (code);
            ALTER TABLE events_a REPLICA IDENTITY USING INDEX events_a_code;
            INSERT INTO events VALUES (1, 1, 'one', 'c1'), (3, 3, 'three', 'c3');""");
        var first = cdc("--table", "events", "--apply");
        if (first.exitCode() != 0) {
            assertThat(first.exitCode()).as(first.toString()).isEqualTo(2);
            return;
        }
        source.execute("DELETE FROM events WHERE id = 3");
        var run = ok("--table", "events", "--apply");
        assertThat(warehouse.rows(EVENTS.formatted("bronze.events"))).as(run.toString()).isEqualTo(source.rows(EVENTS.formatted("events")));
    }

    static final String TAGS = "SELECT a::text, b, c::text FROM %s ORDER BY 1, 2, 3";

    /** A keyless FULL table under --apply, then a column added with a default. */
    @Test
    void keylessApplyAfterAddColumnWithDefault() {
        source.execute("CREATE TABLE public.tags (a int, b text)", "ALTER TABLE tags REPLICA IDENTITY FULL",
            "INSERT INTO tags VALUES (1, 'x'), (2, 'y')");
        ok("--table", "tags", "--apply");
        source.execute("ALTER TABLE tags ADD COLUMN c int DEFAULT 0", "UPDATE tags SET b = 'z' WHERE a = 1");
        var run = ok("--table", "tags", "--apply");
        assertThat(warehouse.rows(TAGS.formatted("bronze.tags"))).as(run.toString()).isEqualTo(source.rows(TAGS.formatted("tags")));
    }

    /** A keyless FULL table under --apply, then a type change that changes the values' text form. */
    @Test
    void keylessApplyAfterTypeChange() {
        source.execute("CREATE TABLE public.tags (a int, b text, c numeric(10, 1))", "ALTER TABLE tags REPLICA IDENTITY FULL",
            "INSERT INTO tags VALUES (1, 'x', 1.5), (2, 'y', 2.5)");
        ok("--table", "tags", "--apply");
        source.execute("ALTER TABLE tags ALTER COLUMN c TYPE numeric(10, 2)", "UPDATE tags SET b = 'z' WHERE a = 1");
        var run = ok("--table", "tags", "--apply");
        assertThat(warehouse.rows("SELECT a::text, b, c::numeric::text FROM bronze.tags ORDER BY 1, 2, 3")).as(run.toString())
            .isEqualTo(source.rows(TAGS.formatted("tags")));
    }

    /** --publication changed between runs: the flag "publication_created" must not follow the new name. */
    @Test
    void dropSlotKeepsAPublicationTheStreamSwitchedTo() {
        source.execute("CREATE TABLE public.items (id int PRIMARY KEY)");
        ok("--table", "items");
        source.execute("CREATE PUBLICATION given FOR TABLE items");
        source.execute("INSERT INTO items VALUES (1)");
        ok("--table", "items", "--publication", "given");
        var dropped = ok("--drop-slot", "--publication", "given");
        assertThat(source.value("SELECT count(*) FROM pg_publication WHERE pubname = 'given'")).as(dropped.toString()).isEqualTo("1");
    }

    /** A user's publication without publish_via_partition_root, given a partitioned table by this run. */
    @Test
    void aPartitionedTableAddedToALeafwisePublicationIsRefusedOnTheFirstRun() {
        events();
        source.execute("CREATE TABLE public.items (id int PRIMARY KEY)", "CREATE PUBLICATION given FOR TABLE items");
        var first = cdc("--table", "items", "--table", "events", "--publication", "given");
        assertThat(warehouse.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'bronze' AND tablename LIKE 'events%' ORDER BY 1"))
            .as(first.toString()).doesNotContain(List.of("events_a__changes"));
        assertThat(first.exitCode()).as(first.toString()).isEqualTo(2);
    }

    /** A dry run approves only what the real run does. */
    @Test
    void dryRunOfASlotWithoutCheckpointFailsLikeTheRealRun() {
        source.execute("CREATE TABLE public.items (id int PRIMARY KEY)",
            "SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        var real = cdc("--table", "items");
        var dry = cdc("--table", "items", "--dry-run", "--json");
        assertThat(dry.exitCode()).as(real + "\n" + dry).isEqualTo(real.exitCode());
    }

    /** Stream A (schema bronze) created publication p; stream B (schema other) reads it too. */
    @Test
    void dropSlotOfOneStreamLeavesAnotherStreamOfAnotherSchemaWorking() {
        source.execute("CREATE TABLE public.items (id int PRIMARY KEY)");
        String slotB = slot + "_b";
        try {
            ok("--table", "items", "--publication", "p");
            var b = Datakits.run("PostgresCdc", env(), "--slot", slotB, "--table", "items", "--publication", "p", "--target-schema", "other");
            assertThat(b.exitCode()).as(b.toString()).isZero();
            var dropped = ok("--drop-slot", "--publication", "p");
            source.execute("INSERT INTO items VALUES (1)");
            var b2 = Datakits.run("PostgresCdc", env(), "--slot", slotB, "--table", "items", "--publication", "p", "--target-schema", "other");
            source.execute("INSERT INTO items VALUES (2)");
            var b3 = Datakits.run("PostgresCdc", env(), "--slot", slotB, "--table", "items", "--publication", "p", "--target-schema", "other");
            assertThat(b3.exitCode()).as(dropped + "\n" + b2 + "\n" + b3).isZero();
            assertThat(warehouse.value("SELECT count(*) FROM other.items__changes")).as(dropped + "\n" + b2 + "\n" + b3).isEqualTo("2");
        } finally {
            source.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slotB + "'");
        }
    }
}

