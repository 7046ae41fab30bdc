package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.sandbox.LocalCluster;
import datakit.sandbox.PostgresSandbox;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/**
 * Reviewer probes of the merged issue-14 work that expose defects (each fails on 428570e): a cursor-mode
 * incremental run on a standby behind the last run, the xmin dry run there, and a warehouse pool of one.
 */
class MergeProbeIT {
    static final ObjectMapper JSON = new ObjectMapper();

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 60 s for " + what).isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    static void waitForReplay(LocalCluster primary, LocalCluster standby) throws InterruptedException {
        String lsn = new TestDatabase(primary, "postgres").value("SELECT pg_current_wal_insert_lsn()");
        var replica = new TestDatabase(standby, "postgres");
        await("replay", () -> replica.value("SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'").equals("t"));
    }

    /**
     * Run 1 reads the primary (rows 1-3, row 2 at v2); run 2 reads a standby whose replay is paused before v2 and row 3, as a
     * read-replica pool or a failover may serve. xmin mode sees the source is behind and loads nothing; cursor mode does not:
     * with --lookback it merges v1 over v2, with --detect-deletes it marks row 3 deleted, exit 0 without a word. The xmin dry
     * run shows the delta query as if the run would load it.
     */
    @Test
    void aStandbyBehindTheLastRunNeitherPutsOlderVersionsBackNorMarksNewerRowsDeleted() throws Exception {
        LocalCluster primary = PostgresSandbox.startLocal(System.err::println);
        LocalCluster standby = primary.startStandby();
        var soft = new SoftAssertions();
        try {
            var db = TestPostgres.createDatabase(primary, "behind_src");
            var warehouse = TestPostgres.createDatabase(primary, "behind_wh");
            db.execute("CREATE TABLE notes (id int PRIMARY KEY, body text, at timestamptz NOT NULL DEFAULT clock_timestamp())",
                "CREATE TABLE other (id int)", "INSERT INTO notes VALUES (1, 'base')");
            var replica = new TestDatabase(standby, db.name());
            var onPrimary = Map.of("SOURCE_DATABASE_URL", db.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
            var onStandby = Map.of("SOURCE_DATABASE_URL", replica.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
            try (Connection open = db.connect(); Statement st = open.createStatement()) {
                // Keeps every snapshot's xmin low, as in StandbyIT, so that xmin mode's check has something to compare.
                open.setAutoCommit(false);
                st.execute("INSERT INTO other VALUES (1)");
                db.execute("INSERT INTO notes VALUES (2, 'v1')");
                waitForReplay(primary, standby);
                replica.execute("SELECT pg_wal_replay_pause()");
                await("replay to pause", () -> replica.value("SELECT pg_get_wal_replay_pause_state()").equals("paused"));
                try {
                    db.execute("UPDATE notes SET body = 'v2', at = clock_timestamp() WHERE id = 2", "INSERT INTO notes VALUES (3, 'new')");
                    for (String[] args : List.of(new String[] {"--sync-mode", "xmin", "--target-table", "notes_xmin"},
                            new String[] {"--cursor-field", "at", "--target-table", "notes_cursor"},
                            new String[] {"--cursor-field", "at", "--target-table", "notes_lookback", "--lookback", "PT1H",
                                "--on-conflict", "overwrite"})) {
                        var all = new ArrayList<>(List.of("--table", "notes", "--detect-deletes", "--json"));
                        all.addAll(List.of(args));
                        var first = Datakits.run("PostgresIncremental", onPrimary, all.toArray(String[]::new));
                        assertThat(first.exitCode()).as(first.toString()).isZero();
                        if (args[0].equals("--sync-mode")) {
                            var dry = new ArrayList<>(all);
                            dry.add("--dry-run");
                            var plan = Datakits.run("PostgresIncremental", onStandby, dry.toArray(String[]::new));
                            soft.assertThat(JSON.readTree(plan.out()).has("behind"))
                                .as("the xmin dry run on a standby behind says the run would load nothing\n" + plan).isTrue();
                        }
                        var second = Datakits.run("PostgresIncremental", onStandby, all.toArray(String[]::new));
                        assertThat(second.exitCode()).as(second.toString()).isZero();
                    }
                } finally {
                    replica.execute("SELECT pg_wal_replay_resume()");
                }
            }
            List<List<String>> expected = List.of(List.of("1", "base", "f"), List.of("2", "v2", "f"), List.of("3", "new", "f"));
            for (String table : List.of("notes_xmin", "notes_cursor", "notes_lookback")) {
                soft.assertThat(warehouse.rows("SELECT id, body, _bronze_deleted_at IS NOT NULL FROM bronze." + table + " ORDER BY id"))
                    .as("bronze." + table + " after a run on the standby behind").isEqualTo(expected);
            }
        } finally {
            standby.close();
            primary.close();
        }
        soft.assertAll();
    }
}
