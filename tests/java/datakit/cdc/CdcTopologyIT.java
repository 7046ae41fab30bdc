package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.sandbox.LocalCluster;
import datakit.sandbox.PgBouncer;
import datakit.sandbox.PostgresSandbox;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * postgres-cdc where the source is not a primary server reached directly (a hot standby, PgBouncer), or one
 * that takes no replication connection. Each is refused before anything is created, with one line that
 * gives the real reason.
 */
class CdcTopologyIT {

    @Test
    void aHotStandbyOfPostgres15IsRefusedWithTheRealReasonBeforeAnythingIsMade() throws Exception {
        try (LocalCluster primary = PostgresSandbox.startLocal(System.err::println); LocalCluster standby = primary.startStandby()) {
            TestDatabase onPrimary = TestPostgres.createDatabase(primary, "cdc_standby");
            onPrimary.execute("CREATE TABLE items (id int PRIMARY KEY, name text)", "INSERT INTO items VALUES (1, 'one')");
            var onStandby = new TestDatabase(standby, onPrimary.name());
            waitForReplay(onStandby);
            TestDatabase warehouse = TestPostgres.createDatabase("cdc_standby_wh");

            var run = captureItems(onStandby, warehouse, "standby_cdc");

            Datakits.assertFailsWithOneLine(run, 2, "is a hot standby (in recovery), and PostgreSQL 15 cannot decode changes on a standby "
                + "(16 and later can, from a publication made on the primary). Point --source at the primary.");
            assertThat(run.err()).doesNotContain("--query");
            assertThat(onPrimary.value("SELECT count(*) FROM pg_publication")).isEqualTo("0");
            assertThat(onPrimary.value("SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
            assertThat(onStandby.value("SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
            assertThat(warehouse.value("SELECT count(*) FROM pg_namespace WHERE nspname = 'bronze'")).isEqualTo("0");
        }
    }

    @Test
    void pgBouncerIsRefusedBeforeAPublicationIsMade() {
        TestDatabase source = TestPostgres.createDatabase("cdc_pooled");
        source.execute("CREATE TABLE items (id int PRIMARY KEY, name text)", "INSERT INTO items VALUES (1, 'one')");
        TestDatabase warehouse = TestPostgres.createDatabase("cdc_pooled_wh");
        try (PgBouncer bouncer = PgBouncer.start(TestPostgres.server(), PgBouncer.PoolMode.SESSION, 2)) {
            var pooled = new TestDatabase(bouncer, source.name());

            var run = captureItems(pooled, warehouse, "pooled_cdc");

            Datakits.assertFailsWithOneLine(run, 2, "refused a replication connection (unsupported startup parameter: replication): "
                + "replication connections cannot go through a connection pooler such as PgBouncer. Point --source (SOURCE_DATABASE_URL) "
                + "at the PostgreSQL server itself");
            assertNothingWasMade(source, warehouse);
        }
    }

    @Test
    void aServerThatRefusesTheReplicationConnectionAloneStopsTheRunBeforeAnythingIsMade() {
        try (LocalCluster server = PostgresSandbox.startLocal(System.err::println)) {
            // Ordinary connections work, a replication connection does not: no walsender may start.
            server.restart(List.of("max_wal_senders=0"));
            TestDatabase source = TestPostgres.createDatabase(server, "cdc_nosender");
            source.execute("CREATE TABLE items (id int PRIMARY KEY, name text)");
            TestDatabase warehouse = TestPostgres.createDatabase(server, "cdc_nosender_wh");

            var run = captureItems(source, warehouse, "nosender_cdc");

            Datakits.assertFailsWithOneLine(run, 1, "refused a replication connection (number of requested standby connections exceeds "
                + "max_wal_senders (currently 0)), though it takes ordinary ones, and change data capture needs one: each running stream "
                + "holds one of the server's max_wal_senders.");
            assertNothingWasMade(source, warehouse);
        }
    }

    private static Datakits.Run captureItems(TestDatabase source, TestDatabase warehouse, String slot) {
        return Datakits.run("PostgresCdc", Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()),
            "--table", "items", "--slot", slot);
    }

    /** No publication, no slot of the source's database, no bronze schema. */
    private static void assertNothingWasMade(TestDatabase source, TestDatabase warehouse) {
        assertThat(source.value("SELECT count(*) FROM pg_publication")).isEqualTo("0");
        assertThat(source.value("SELECT count(*) FROM pg_replication_slots WHERE database = current_database()")).isEqualTo("0");
        assertThat(warehouse.value("SELECT count(*) FROM pg_namespace WHERE nspname = 'bronze'")).isEqualTo("0");
    }

    /** The standby has replayed the primary's database and table. */
    private static void waitForReplay(TestDatabase onStandby) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            try {
                assertThat(onStandby.value("SELECT count(*) FROM items")).isEqualTo("1");
                return;
            } catch (IllegalStateException | AssertionError notYet) {
                if (System.nanoTime() > deadline) {
                    throw notYet;
                }
                Thread.sleep(100);
            }
        }
    }
}
