package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import datakit.testing.TestDatabase;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A slot on a quiet published table, while an unpublished table of the same database writes WAL: each
 * run moves the slot to the position it reached, so the WAL the slot keeps stays bounded, and a change
 * made after all that still lands exactly once.
 */
class QuietSlotIT {
    /** About 3 MB of WAL per burst: 10,000 rows of 200 characters, with their index entries. */
    static final String BURST = "INSERT INTO public.busy (payload) SELECT repeat(md5(g::text), 6) FROM generate_series(1, 10000) g";
    static final int BURSTS = 4;
    /** The WAL a slot may keep after a run: the last burst and what the run wrote itself, never the sum of all bursts. */
    static final long RETAINED_BOUND = 8L << 20;

    TestDatabase source;
    TestDatabase warehouse;
    Map<String, String> env;
    String slot;
    final List<Process> started = new ArrayList<>();

    @BeforeEach
    void createDatabases() {
        var db = SourceAndWarehouse.create("quiet",
            "CREATE TABLE public.quiet (id int PRIMARY KEY, note text)", "INSERT INTO public.quiet VALUES (1, 'snapshot')",
            "CREATE TABLE public.busy (id bigserial PRIMARY KEY, payload text)");
        source = db.source();
        warehouse = db.warehouse();
        env = db.env();
        slot = "quiet_" + source.name();
    }

    @AfterEach
    void dropSlots() throws Exception {
        for (Process process : started) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
        source.dropReplicationSlots(slot, slot + "_peek");
    }

    Datakits.Run ok(String... args) {
        var all = new ArrayList<>(List.of("--slot", slot, "--table", "quiet"));
        all.addAll(List.of(args));
        var run = Datakits.run("PostgresCdc", env, all.toArray(String[]::new));
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    /** Writes a burst of WAL no change of the stream's table is in; returns the WAL position after it. */
    String burst() {
        source.execute(BURST);
        // The server logs which transactions run (where a slot may restart decoding) every 15 s and at each checkpoint.
        source.execute("CHECKPOINT");
        return source.value("SELECT pg_current_wal_lsn()");
    }

    /** Whether the slot has confirmed at least {@code lsn}. */
    boolean confirmedPast(String lsn) {
        return source.value("SELECT confirmed_flush_lsn >= '" + lsn + "' FROM pg_replication_slots WHERE slot_name = '" + slot + "'")
            .equals("t");
    }

    /** The WAL the slot keeps: from its restart position to the server's current one. */
    long retained() {
        return Long.parseLong(source.value("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots "
            + "WHERE slot_name = '" + slot + "'"));
    }

    @Test
    void boundedRunsMoveTheSlotOfAQuietTableWhileOtherTablesWriteWal() {
        ok();
        for (int i = 1; i <= BURSTS; i++) {
            String after = burst();
            var run = ok();
            long retained = retained();
            System.err.printf("bounded run %d: slot at %s, WAL after the burst %s, retained %,d bytes%n", i,
                source.value("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '" + slot + "'"), after, retained);
            assertThat(confirmedPast(after)).as("run %d confirmed the position it reached\n%s", i, run).isTrue();
            assertThat(warehouse.value("SELECT lsn >= '" + after + "' FROM bronze.extraction_checkpoints WHERE stream = 'cdc:" + slot + "'"))
                .as("the warehouse recorded it first").isEqualTo("t");
            assertThat(retained).as("WAL kept after run %d", i).isLessThan(RETAINED_BOUND);
        }
        source.execute("INSERT INTO public.quiet VALUES (2, 'after the bursts')");
        ok();
        ok();
        assertThat(warehouse.rows("SELECT _cdc_op, id::text, note FROM bronze.quiet__changes"))
            .containsExactly(List.of("insert", "2", "after the bursts"));
    }

    /**
     * A run that ends while transactions of its table are still open confirms a position past their start:
     * the server keeps their WAL (the slot restarts decoding before them) and sends them whole when they
     * commit, a big one streamed again from its first change.
     */
    @Test
    void transactionsOpenWhenABoundedRunEndsLandOnceAndWhole() throws Exception {
        // A small decoding memory makes the server stream the big transaction while it is in progress.
        source.execute("ALTER DATABASE " + source.name() + " SET logical_decoding_work_mem = '64kB'");
        ok();
        try (Connection big = source.connect(); Connection small = source.connect()) {
            big.setAutoCommit(false);
            small.setAutoCommit(false);
            big.createStatement().execute("INSERT INTO public.quiet SELECT g, 'big' FROM generate_series(100, 5099) g");
            small.createStatement().execute("INSERT INTO public.quiet VALUES (3, 'small')");
            String after = burst();
            ok();
            assertThat(confirmedPast(after)).as("the run confirmed past the open transactions' start").isTrue();
            assertThat(source.value("SELECT stream_txns > 0 FROM pg_stat_replication_slots WHERE slot_name = '" + slot + "'"))
                .as("the big transaction was streamed while in progress").isEqualTo("t");
            small.commit();
            big.commit();
        }
        ok();
        ok();
        assertThat(warehouse.rows("SELECT note, count(*)::text, count(DISTINCT id)::text FROM bronze.quiet__changes GROUP BY 1 ORDER BY 1"))
            .containsExactly(List.of("big", "5000", "5000"), List.of("small", "1", "1"));
    }

    /**
     * The server ends a replication connection it has not heard from for wal_sender_timeout (2 s here, for
     * the source database's connections): a bounded run whose last commit takes longer (3 s, a trigger on
     * the change table) keeps it and confirms the position it reached.
     */
    @Test
    void aBoundedRunWhoseLastCommitOutlastsWalSenderTimeoutStillConfirmsItsEnd() {
        source.execute("ALTER DATABASE " + source.name() + " SET wal_sender_timeout = '2s'");
        ok();
        warehouse.execute("CREATE FUNCTION bronze.slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$",
            "CREATE TRIGGER slow_commit AFTER INSERT ON bronze.quiet__changes FOR EACH STATEMENT EXECUTE FUNCTION bronze.slow_commit()");
        source.execute("INSERT INTO public.quiet VALUES (2, 'slow to commit')");

        var run = ok();

        String checkpoint = warehouse.value("SELECT lsn::text FROM bronze.extraction_checkpoints WHERE stream = 'cdc:" + slot + "'");
        assertThat(source.value("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '" + slot + "'"))
            .as("the slot heard of the run's end\n%s", run).isEqualTo(checkpoint);
        assertThat(run.err()).as(run.toString()).isEmpty();
    }

    /**
     * --heartbeat writes a logical message into the source's WAL every second while the stream follows:
     * the slot's own database has WAL to read past, and the checkpoint's time shows the stream is current.
     */
    @Test
    void aHeartbeatKeepsTheCheckpointOfAQuietFollowedStreamCurrent() throws Exception {
        ok();
        // A second slot from here on shows what the source's WAL holds.
        source.execute("SELECT pg_create_logical_replication_slot('" + slot + "_peek', 'pgoutput')");
        Process follower = Datakits.start("PostgresCdc", env, "--slot", slot, "--table", "quiet", "--follow", "--heartbeat", "1");
        started.add(follower);
        String checkpointAge = "SELECT round(extract(epoch FROM clock_timestamp() - updated_at), 1) FROM bronze.extraction_checkpoints "
            + "WHERE stream = 'cdc:" + slot + "'";
        for (int second = 0; second < 3; second++) {
            String before = source.value("SELECT pg_current_wal_lsn()");
            for (int wait = 0; wait < 100 && !confirmedPast(before); wait++) {
                Thread.sleep(50);
            }
            assertThat(confirmedPast(before)).as("the slot moved on within 5 s").isTrue();
            double age = Double.parseDouble(warehouse.value(checkpointAge));
            System.err.printf("heartbeat %d: checkpoint recorded %.1f s ago%n", second, age);
            // A heartbeat every second, the server asked every second, the position recorded at most every second.
            assertThat(age).as("the checkpoint's age").isLessThan(3.5);
        }
        follower.destroy();
        assertThat(follower.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(Long.parseLong(source.value("SELECT count(*) FROM pg_logical_slot_peek_binary_changes('" + slot + "_peek', NULL, NULL, "
            + "'proto_version', '1', 'publication_names', '" + slot + "', 'messages', 'true') "
            + "WHERE position('datakit_heartbeat'::bytea IN data) > 0"))).as("heartbeats in the WAL").isGreaterThanOrEqualTo(2);
    }

    @Test
    void aHeartbeatTheSourceUserMayNotWriteFailsWithOneLine() {
        String role = "cdc_noheartbeat_" + source.name();
        source.execute("DROP ROLE IF EXISTS " + role, "CREATE ROLE " + role + " LOGIN REPLICATION PASSWORD 'pw'",
            "GRANT SELECT ON public.quiet TO " + role,
            // Function privileges live in each database: this one alone loses it.
            "REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) FROM PUBLIC");
        ok();
        var limited = Map.of("SOURCE_DATABASE_URL", source.url().replaceFirst("//[^@]*@", "//" + role + ":pw@"),
            "WAREHOUSE_DATABASE_URL", warehouse.url());
        var run = Datakits.run("PostgresCdc", limited, "--slot", slot, "--table", "quiet", "--follow", "--heartbeat", "5");
        Datakits.assertFailsWithOneLine(run, 2, "--heartbeat writes pg_logical_emit_message() on the source",
            "permission denied for function pg_logical_emit_message", "GRANT EXECUTE ON FUNCTION pg_logical_emit_message");
        assertThat(warehouse.value("SELECT status FROM bronze.extraction_runs ORDER BY started_at DESC LIMIT 1")).isEqualTo("failed");
    }

    @Test
    void aFollowedStreamMovesTheSlotOfAQuietTableWhileOtherTablesWriteWal() throws Exception {
        ok();
        Process follower = Datakits.start("PostgresCdc", env, "--slot", slot, "--table", "quiet", "--follow");
        started.add(follower);
        for (int i = 1; i <= BURSTS; i++) {
            String after = burst();
            for (int wait = 0; wait < 200 && !confirmedPast(after); wait++) {
                Thread.sleep(50);
            }
            long retained = retained();
            System.err.printf("followed burst %d: WAL after the burst %s, retained %,d bytes%n", i, after, retained);
            assertThat(confirmedPast(after)).as("the follower confirmed past burst %d within 10 s", i).isTrue();
            assertThat(retained).as("WAL kept after burst %d", i).isLessThan(RETAINED_BOUND);
        }
        source.execute("INSERT INTO public.quiet VALUES (2, 'after the bursts')");
        for (int wait = 0; wait < 200 && !warehouse.value("SELECT to_regclass('bronze.quiet__changes') IS NOT NULL").equals("t"); wait++) {
            Thread.sleep(50);
        }
        for (int wait = 0; wait < 200 && warehouse.count("bronze.quiet__changes") == 0; wait++) {
            Thread.sleep(50);
        }
        follower.destroy();
        assertThat(follower.waitFor(60, TimeUnit.SECONDS)).isTrue();
        ok();
        assertThat(warehouse.rows("SELECT _cdc_op, id::text, note FROM bronze.quiet__changes"))
            .containsExactly(List.of("insert", "2", "after the bursts"));
    }
}
