package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.sandbox.LocalCluster;
import datakit.sandbox.PostgresSandbox;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A stream whose slot is gone, or invalidated by the server, since its last run: by default the run fails with the gap
 * and the way out, and changes nothing; with {@code --on-slot-lost resnapshot} it makes the slot again, reloads the
 * tables and marks the gap in each change table. A slot whose WAL reserve (max_slot_wal_keep_size) runs low is reported
 * by the run and by postgres-health before the server invalidates it. On a private server, whose WAL limits are its own.
 */
class CdcSlotLostIT {
    static final ObjectMapper JSON = new ObjectMapper();
    static LocalCluster server;

    @BeforeAll
    static void startPrivateServer() {
        server = PostgresSandbox.startLocal(System.err::println);
        server.restart(List.of("wal_level=logical", "max_slot_wal_keep_size=48MB", "wal_keep_size=0", "max_wal_size=256MB",
            "checkpoint_timeout=1h"));
    }

    @AfterAll
    static void stopPrivateServer() {
        server.close();
    }

    record Stream(TestDatabase source, TestDatabase warehouse, String slot) {
        Map<String, String> env() {
            return Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
        }

        Datakits.Run run(String... args) {
            var all = new ArrayList<>(List.of("--slot", slot, "--table", "items"));
            all.addAll(List.of(args));
            return Datakits.run("PostgresCdc", env(), all.toArray(String[]::new));
        }

        Datakits.Run ok(String... args) {
            var run = run(args);
            assertThat(run.exitCode()).as(run.toString()).isZero();
            return run;
        }

        String checkpoint() {
            return warehouse.value("SELECT lsn FROM bronze.extraction_checkpoints WHERE stream = 'cdc:" + slot + "'");
        }

        /** About {@code megabytes} of WAL no change of the stream is in, then a checkpoint, where the server may remove WAL. */
        void writeWal(int megabytes) {
            for (int i = 0; i < megabytes; i++) {
                source.execute("INSERT INTO busy (payload) SELECT repeat(md5(g::text), 6) FROM generate_series(1, 3500) g");
            }
            source.execute("CHECKPOINT");
        }

        void assertBronzeEqualsSource() {
            String rows = "SELECT id, name FROM %s ORDER BY id";
            assertThat(warehouse.rows(rows.formatted("bronze.items"))).isEqualTo(source.rows(rows.formatted("items")));
        }
    }

    static Stream stream(String name) {
        TestDatabase source = TestPostgres.createDatabase(server, name);
        TestDatabase warehouse = TestPostgres.createDatabase(server, name + "_wh");
        source.execute("CREATE TABLE public.items (id int PRIMARY KEY, name text)",
            "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g",
            "CREATE TABLE public.busy (id bigserial PRIMARY KEY, payload text)");
        return new Stream(source, warehouse, name + "_slot");
    }

    @Test
    void aSlotDroppedSinceTheLastRunFailsTheRunUnlessAskedToResnapshotWhichMarksTheGap() {
        var stream = stream("lost_dropped");
        stream.ok();
        stream.source().execute("INSERT INTO items VALUES (101, 'seen')");
        stream.ok();
        String held = stream.checkpoint();
        stream.source().execute("SELECT pg_drop_replication_slot('" + stream.slot() + "')",
            "INSERT INTO items VALUES (102, 'lost'), (103, 'lost')", "UPDATE items SET name = 'lost too' WHERE id = 1");

        var refused = stream.run();
        Datakits.assertFailsWithOneLine(refused, 3, "Slot " + stream.slot() + " is gone from the source since the last run (dropped, or "
            + "not on this server after a failover or an upgrade), and bronze holds its changes up to " + held + " only: the changes made "
            + "since are gone from the source. Run with --on-slot-lost resnapshot to make the slot again and reload every table from its "
            + "snapshot (each change table marks the gap), or --drop-slot to start over.");
        assertThat(stream.source().value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + stream.slot() + "'")).isEqualTo("0");
        assertThat(stream.checkpoint()).isEqualTo(held);

        var remade = stream.ok("--on-slot-lost", "resnapshot");
        assertThat(remade.out()).contains("slot " + stream.slot() + " is gone from the source since the last run");
        stream.assertBronzeEqualsSource();
        assertThat(stream.warehouse().rows("SELECT _cdc_old ->> 'reason', _cdc_old ->> 'gap_from', _cdc_old ->> 'rows' "
            + "FROM bronze.items__changes WHERE _cdc_op = 'snapshot'"))
            .containsExactly(List.of("the slot was lost and made again", held, "103"));
        stream.source().execute("INSERT INTO items VALUES (104, 'after')");
        stream.ok();
        assertThat(stream.warehouse().rows("SELECT id FROM bronze.items__changes WHERE _cdc_op = 'insert' ORDER BY _cdc_lsn"))
            .containsExactly(List.of("101"), List.of("104"));
    }

    @Test
    void aSlotRunningOutOfReservedWalIsReportedBeforeTheServerInvalidatesItAndALostOneFailsOrIsMadeAgain() throws Exception {
        var stream = stream("lost_reserve");
        stream.ok();
        stream.writeWal(30);

        JsonNode health = JSON.readTree(Datakits.run("PostgresHealth", stream.env(), "--json").out());
        assertThat(health.path("warnings").toString()).contains("slot " + stream.slot() + " can fall only ",
            "further behind before the server invalidates it (safe_wal_size, of max_slot_wal_keep_size 48 MiB)");
        var warned = stream.ok();
        assertThat(warned.out()).contains("at the start of this run, slot " + stream.slot() + " can fall only ");
        assertThat(warned.err()).contains("WARNING: at the start of this run, slot " + stream.slot() + " can fall only ");

        stream.source().execute("INSERT INTO items VALUES (101, 'lost')");
        String held = stream.checkpoint();
        stream.writeWal(70);
        stream.writeWal(1);
        assertThat(stream.source().value("SELECT wal_status FROM pg_replication_slots WHERE slot_name = '" + stream.slot() + "'"))
            .isEqualTo("lost");
        JsonNode unhealthy = JSON.readTree(Datakits.run("PostgresHealth", stream.env(), "--json").out());
        assertThat(unhealthy.toString()).contains("slot " + stream.slot() + " has lost WAL it needed");

        var refused = stream.run();
        Datakits.assertFailsWithOneLine(refused, 3, "Slot " + stream.slot() + " was invalidated by the source (wal_removed: it fell more "
            + "than max_slot_wal_keep_size behind, and the server removed WAL it needed) and can never stream again, and bronze holds its "
            + "changes up to " + held + " only");
        assertThat(stream.warehouse().value("SELECT count(*) FROM bronze.items")).isEqualTo("100");

        stream.ok("--on-slot-lost", "resnapshot");
        stream.assertBronzeEqualsSource();
        assertThat(stream.source().value("SELECT wal_status FROM pg_replication_slots WHERE slot_name = '" + stream.slot() + "'"))
            .isIn("reserved", "extended");
    }
}
