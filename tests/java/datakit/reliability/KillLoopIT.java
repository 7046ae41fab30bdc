package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.SourceAndWarehouse;
import datakit.testing.TestDatabase;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * For each extraction mode: {@link KillLoop#ITERATIONS} runs killed with SIGKILL at random moments while
 * the source changes, then one run to the end; bronze must then equal the source (replace, merge, the
 * state of --apply) and append and change tables must hold every row once: nothing lost, nothing twice.
 */
class KillLoopIT {
    private final List<Runnable> cleanUp = new ArrayList<>();
    private final List<SourceAndWarehouse> databases = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        cleanUp.forEach(Runnable::run);
    }

    @Test
    void aFullReplaceKilledAtRandomLeavesBronzeWholeAndEqualToTheSource() throws Exception {
        var db = SourceAndWarehouse.create("killfull",
            "CREATE TABLE public.items (id bigint PRIMARY KEY, payload text NOT NULL, v int NOT NULL DEFAULT 0)",
            "INSERT INTO public.items SELECT g, repeat(md5(g::text), 4), 0 FROM generate_series(1, 200000) g");
        databases.add(db);
        var loop = new KillLoop("full (postgres-extract, replace)", db, "PostgresExtract", "--table", "items");

        loop.calibrate();
        for (int i = 1; i <= KillLoop.ITERATIONS; i++) {
            db.source().execute("UPDATE public.items SET v = v + 1 WHERE id % 97 = " + i % 97,
                "DELETE FROM public.items WHERE id IN (SELECT id FROM public.items ORDER BY id LIMIT 300)",
                "INSERT INTO public.items SELECT g, 'new ' || g, 0 FROM generate_series((SELECT max(id) + 1 FROM public.items), "
                    + "(SELECT max(id) + 1000 FROM public.items)) g");
            loop.startAndKill();
            assertBronzeIsOneWholeRun(db.warehouse(), "bronze.items");
        }
        loop.finish();

        var outcome = RowSets.compare("bronze.items against the source", db.source(), "SELECT id, payload, v FROM public.items",
            db.warehouse(), "SELECT id, payload, v FROM bronze.items");
        loop.report(outcome);
        assertExact(outcome);
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_bronze\\_staging%'")).isEqualTo("0");
    }

    /** A replaced table is never half-written: its rows all come from one succeeded run, and are all of that run's rows. */
    private static void assertBronzeIsOneWholeRun(TestDatabase warehouse, String table) {
        if (warehouse.value("SELECT to_regclass('" + table + "') IS NULL").equals("t")) {
            return;
        }
        assertThat(warehouse.rows("""
                SELECT count(DISTINCT b._bronze_run_id) = 1, bool_and(r.status = 'succeeded'), max(r.rows_loaded) = count(*)
                FROM %s b LEFT JOIN bronze.extraction_runs r ON r.run_id = b._bronze_run_id""".formatted(table)))
            .as("every row of %s from one succeeded run, and all of its rows", table)
            .containsExactly(List.of("t", "t", "t"));
    }

    @Test
    void incrementalMergeAndAppendKilledAtRandomLoseNothingAndRepeatNothing() throws Exception {
        var db = SourceAndWarehouse.create("killinc",
            "CREATE TABLE public.events (id bigint PRIMARY KEY, payload text NOT NULL, v int NOT NULL, changed_at timestamptz NOT NULL)",
            "INSERT INTO public.events SELECT g, repeat(md5(g::text), 4), 0, timestamptz '2026-01-01' + g * interval '1 ms' "
                + "FROM generate_series(1, 150000) g",
            "CREATE INDEX ON public.events (changed_at)",
            // Every version ever written, to tell an appended version that was never written from a real one.
            "CREATE TABLE public.versions_written (id bigint, v int)",
            """
                CREATE FUNCTION note_version() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN INSERT INTO public.versions_written VALUES (NEW.id, NEW.v); RETURN NULL; END $$""",
            "CREATE TRIGGER note_version AFTER INSERT OR UPDATE ON public.events FOR EACH ROW EXECUTE FUNCTION note_version()",
            "INSERT INTO public.versions_written SELECT id, v FROM public.events");
        databases.add(db);
        String[] common = {"--table", "events", "--cursor-field", "changed_at", "--chunk-rows", "10000"};
        var merge = new KillLoop("incremental (postgres-incremental, merge)", db, "PostgresIncremental",
            concat(common, "--target-table", "events_merged"));
        var append = new KillLoop("incremental (postgres-incremental, append)", db, "PostgresIncremental",
            concat(common, "--mode", "append", "--target-table", "events_versions"));

        merge.calibrate();
        append.calibrate();
        for (int i = 1; i <= KillLoop.ITERATIONS; i++) {
            db.source().execute("UPDATE public.events SET v = v + 1, changed_at = clock_timestamp() WHERE id % 50 = " + i % 50,
                "INSERT INTO public.events SELECT g, 'new ' || g, 0, clock_timestamp() "
                    + "FROM generate_series((SELECT max(id) + 1 FROM public.events), (SELECT max(id) + 2000 FROM public.events)) g");
            // Both streams run at once, as two scheduled jobs would, and each is killed at its own moment.
            Process first = merge.start();
            Process second = append.start();
            long mergeAt = merge.randomMoment();
            long appendAt = append.randomMoment();
            Thread.sleep(Math.min(mergeAt, appendAt));
            (mergeAt <= appendAt ? merge : append).kill(mergeAt <= appendAt ? first : second);
            Thread.sleep(Math.abs(mergeAt - appendAt));
            (mergeAt <= appendAt ? append : merge).kill(mergeAt <= appendAt ? second : first);
            KillLoop.awaitServerLetGo(db);
        }
        merge.finish();
        append.finish();

        var merged = RowSets.compare("bronze.events_merged against the source", db.source(),
            "SELECT id, payload, v, changed_at FROM public.events", db.warehouse(), "SELECT id, payload, v, changed_at FROM bronze.events_merged");
        merge.report(merged);
        assertExact(merged);
        // Append keeps each version it read, once: every current version must be there, and nothing never written.
        var versions = RowSets.rows(db.warehouse(), "SELECT id, v FROM bronze.events_versions");
        var current = RowSets.compare("current versions", db.source(), "SELECT id, v FROM public.events", db.warehouse(),
            "SELECT DISTINCT id, v FROM bronze.events_versions");
        var written = RowSets.compare("written versions", db.source(), "SELECT DISTINCT id, v FROM public.versions_written", db.warehouse(),
            "SELECT DISTINCT id, v FROM bronze.events_versions");
        long duplicates = versions.values().stream().mapToLong(n -> n - 1).sum();
        var outcome = new KillLoop.Outcome("bronze.events_versions (each version read, once) against the source's current versions and "
            + "every version written", versions.values().stream().mapToLong(Long::longValue).sum(), current.lost(), written.extra(), duplicates);
        append.report(outcome);
        assertExact(outcome);
    }

    @Test
    void aPartitionedLoadKilledAtRandomEndsEqualToTheSource() throws Exception {
        var db = SourceAndWarehouse.create("killpart",
            "CREATE TABLE public.orders (id bigint, region int NOT NULL, payload text NOT NULL, v int NOT NULL DEFAULT 0) PARTITION BY LIST (region)",
            """
                DO $$ BEGIN
                  FOR r IN 0..7 LOOP
                    EXECUTE format('CREATE TABLE public.orders_r%s PARTITION OF public.orders FOR VALUES IN (%s)', r, r);
                  END LOOP;
                END $$""",
            "INSERT INTO public.orders SELECT g, g % 8, repeat(md5(g::text), 4), 0 FROM generate_series(1, 200000) g");
        databases.add(db);
        var loop = new KillLoop("partitioned (postgres-partitioned)", db, "PostgresPartitioned", "--table", "orders");

        loop.calibrate();
        for (int i = 1; i <= KillLoop.ITERATIONS; i++) {
            db.source().execute("UPDATE public.orders SET v = v + 1 WHERE region = " + i % 8 + " AND id % 10 = 0",
                "INSERT INTO public.orders SELECT g, " + (i + 3) % 8 + ", 'new ' || g, 0 "
                    + "FROM generate_series((SELECT max(id) + 1 FROM public.orders), (SELECT max(id) + 500 FROM public.orders)) g");
            loop.startAndKill();
        }
        // The first run after a kill may resume the stopped load, whose parts were read before the last
        // changes (documented); the run after it re-copies the parts that changed.
        loop.finish();
        loop.finish();

        var outcome = RowSets.compare("bronze.orders against the source", db.source(), "SELECT id, region, payload, v FROM public.orders",
            db.warehouse(), "SELECT id, region, payload, v FROM bronze.orders");
        loop.report(outcome);
        assertExact(outcome);
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_tables WHERE schemaname = 'bronze' AND tablename LIKE '\\_bronze\\_part\\_%'"))
            .as("the published parts, and no staged table of a given-up load").isEqualTo("8");
    }

    @Test
    void cdcKilledAtRandomWhileTheSourceWritesLandsEveryChangeOnce() throws Exception {
        var db = SourceAndWarehouse.create("killcdc",
            "CREATE TABLE public.accounts (id bigint PRIMARY KEY, version int NOT NULL, payload text NOT NULL)");
        databases.add(db);
        String slot = "kill_" + db.source().name();
        cleanUp.add(() -> dropSlot(db.source(), slot));
        var loop = new KillLoop("CDC (postgres-cdc --apply)", db, "PostgresCdc", "--table", "public.accounts", "--slot", slot, "--apply");

        loop.calibrate(); // creates the slot: every change after this one must land once
        var writer = new Writer(db.source());
        writer.start();
        cleanUp.add(writer::stop);
        for (int i = 1; i <= KillLoop.ITERATIONS; i++) {
            loop.startAndKill();
        }
        writer.stop();
        loop.finish();

        var state = RowSets.compare("bronze.accounts (--apply) against the source", db.source(), "SELECT id, version, payload FROM public.accounts",
            db.warehouse(), "SELECT id, version, payload FROM bronze.accounts");
        assertExact(state);
        // The writer noted each change it committed (RETURNING tells which updates and deletes hit a row).
        var changes = RowSets.compare("bronze.accounts__changes against every change the writer committed (" + writer.transactions.get()
                + " transactions during the loop)", writer.committed(),
            RowSets.rows(db.warehouse(), "SELECT _cdc_op, id, CASE WHEN _cdc_op = 'delete' THEN NULL ELSE version END FROM bronze.accounts__changes"));
        loop.report(changes);
        assertExact(changes);
        assertThat(db.warehouse().value("SELECT count(*) FROM bronze.accounts__changes WHERE _cdc_op = 'delete'")).isNotEqualTo("0");
    }

    @AfterEach
    void noRunLeftRunning() {
        databases.forEach(KillLoop::assertNoRunLeftRunning);
    }

    private static void assertExact(KillLoop.Outcome outcome) {
        assertThat(List.of(outcome.lost(), outcome.extra(), outcome.duplicates())).as(outcome.toString()).containsOnly(0L);
        assertThat(outcome.rows()).as(outcome.toString()).isPositive();
    }

    private static String[] concat(String[] first, String... more) {
        var all = new ArrayList<>(List.of(first));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    private static void dropSlot(TestDatabase source, String slot) {
        for (int i = 0; i < 200 && source.value("SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = '" + slot + "'")
                .equals("1"); i++) {
            sleep(50);
        }
        source.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Small transactions on the source while the CDC runs are killed: inserts (version 1), updates (the
     * next version) and deletes of random rows, and now and then a transaction of 50 inserts.
     */
    static final class Writer implements Runnable {
        private final TestDatabase source;
        private final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong transactions = new AtomicLong();
        /** Each committed change as the change table's row text: (insert,7,1), (update,7,2), (delete,7,). */
        private final Map<String, Long> committed = new ConcurrentHashMap<>();
        private Thread thread;
        private volatile Throwable failure;

        Writer(TestDatabase source) {
            this.source = source;
        }

        void start() {
            thread = new Thread(this, "source-writer");
            thread.start();
        }

        Map<String, Long> committed() {
            return committed;
        }

        private void note(String op, long id, Integer version) {
            committed.merge("(%s,%d,%s)".formatted(op, id, version == null ? "" : version), 1L, Long::sum);
        }

        void stop() {
            stop.set(true);
            try {
                if (thread != null) {
                    thread.join(TimeUnit.SECONDS.toMillis(30));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            assertThat(failure).as("the source writer failed").isNull();
        }

        @Override
        public void run() {
            var random = ThreadLocalRandom.current();
            long nextId = 1;
            try (var c = source.connect(); var st = c.createStatement()) {
                while (!stop.get()) {
                    int dice = random.nextInt(100);
                    if (dice < 5) {
                        st.execute("INSERT INTO public.accounts SELECT g, 1, 'batch ' || g FROM generate_series(%d, %d) g"
                            .formatted(nextId, nextId + 49));
                        for (long id = nextId; id < nextId + 50; id++) {
                            note("insert", id, 1);
                        }
                        nextId += 50;
                    } else if (dice < 55 || nextId < 10) {
                        st.execute("INSERT INTO public.accounts VALUES (%d, 1, 'new')".formatted(nextId));
                        note("insert", nextId++, 1);
                    } else if (dice < 90) {
                        try (var updated = st.executeQuery("UPDATE public.accounts SET version = version + 1, payload = md5(random()::text) "
                                + "WHERE id = " + random.nextLong(1, nextId) + " RETURNING id, version")) {
                            while (updated.next()) {
                                note("update", updated.getLong(1), updated.getInt(2));
                            }
                        }
                    } else {
                        try (var deleted = st.executeQuery("DELETE FROM public.accounts WHERE id = " + random.nextLong(1, nextId) + " RETURNING id")) {
                            while (deleted.next()) {
                                note("delete", deleted.getLong(1), null);
                            }
                        }
                    }
                    transactions.incrementAndGet();
                    Thread.sleep(3);
                }
            } catch (SQLException | InterruptedException | RuntimeException e) {
                failure = e;
            }
        }
    }
}
