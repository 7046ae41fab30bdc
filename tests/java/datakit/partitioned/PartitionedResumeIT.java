package datakit.partitioned;

import static java.util.concurrent.TimeUnit.MINUTES;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * postgres-partitioned when a run is stopped, when the source changes under it, and when processes share
 * the work: a run killed with SIGKILL resumes with the parts it had not staged, rows committed during a run
 * land in bronze together or not at all (every part is read in one snapshot), and three shards load exactly
 * what one process loads.
 */
class PartitionedResumeIT {
    static final String ROWS = "SELECT id, part, batch, payload FROM %s ORDER BY id";
    static final String STAGED_PARTS = "SELECT count(*) FROM bronze.extraction_checkpoints "
        + "WHERE partition_name <> '(load)' AND jsonb_typeof(state->'staged') = 'object'";

    final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void stopThreads() {
        threads.shutdownNow();
    }

    /** public.events, partitioned by range on part into events_p0..., with rows of about {@code width} characters. */
    static TestDatabase source(int partitions, int rows, int width) {
        TestDatabase source = TestPostgres.createDatabase("resume_src");
        source.execute("CREATE TABLE public.events (id bigint NOT NULL, part int NOT NULL, batch int, payload text) PARTITION BY RANGE (part)",
            "DO $$ BEGIN FOR i IN 0.." + (partitions - 1) + " LOOP EXECUTE format("
                + "'CREATE TABLE public.events_p%s PARTITION OF public.events FOR VALUES FROM (%s) TO (%s)', i, i, i + 1); END LOOP; END $$",
            "INSERT INTO public.events SELECT g, g % " + partitions + ", NULL, rpad(md5(g::text), " + width + ", md5((-g)::text)) "
                + "FROM generate_series(1, " + rows + ") g",
            "ANALYZE public.events");
        return source;
    }

    static Map<String, String> env(TestDatabase source, TestDatabase warehouse) {
        return Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
    }

    /** Starts the datakit in its own JVM, as a scheduler would; what it prints goes to {@code log}. */
    static Process start(Map<String, String> env, Path log, String... args) throws Exception {
        var command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", System.getProperty("java.class.path"), "PostgresPartitioned"));
        command.addAll(List.of(args));
        command.addAll(List.of("--env-file", "/nonexistent/.env"));
        var builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().putAll(env);
        return builder.start();
    }

    /** Polls until {@code sql} returns {@code expected} within {@code timeoutMs} (and while {@code process}, if given, runs). */
    static boolean await(TestDatabase db, String sql, String expected, int timeoutMs, Process process) throws InterruptedException {
        for (long end = System.currentTimeMillis() + timeoutMs; System.currentTimeMillis() < end; Thread.sleep(10)) {
            if (process != null && !process.isAlive()) {
                return false;
            }
            if (db.value(sql).equals(expected)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Kills the run with SIGKILL once {@code parts} parts are staged and before it published, then waits for its
     * sessions to end, which rolls back the parts it was copying.
     */
    static void killAfterStagedParts(TestDatabase warehouse, TestDatabase source, Process process, Path log, int parts) throws Exception {
        boolean staged = await(warehouse, "SELECT to_regclass('bronze.extraction_checkpoints') IS NOT NULL", "t", 60_000, process)
            && await(warehouse, "SELECT (" + STAGED_PARTS + ") >= " + parts + " AND NOT EXISTS "
                + "(SELECT FROM bronze.extraction_runs WHERE status = 'succeeded')", "t", 60_000, process);
        assertThat(staged && process.isAlive()).as("the run should be killed after %d parts were staged and before it published, "
            + "but it ended first or never got there. It printed:%n%s", parts, Files.readString(log)).isTrue();
        process.destroyForcibly(); // SIGKILL
        assertThat(process.waitFor(30, SECONDS)).isTrue();
        assertThat(await(warehouse, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> "
            + "pg_backend_pid() AND datname IN ('" + warehouse.name() + "', '" + source.name() + "')", "0", 30_000, null))
            .as("the sessions of the killed run ended").isTrue();
    }

    @Test
    void aRunKilledAfterSomePartsResumesWithTheOthersAndBronzeEqualsTheSource() throws Exception {
        TestDatabase source = source(8, 400_000, 300);
        TestDatabase warehouse = TestPostgres.createDatabase("resume_wh");
        String[] args = {"--table", "events", "--parallelism", "2"};
        Path log = Files.createTempFile("partitioned-killed", ".log");

        killAfterStagedParts(warehouse, source, start(env(source, warehouse), log, args), log, 2);
        long staged = Long.parseLong(warehouse.value(STAGED_PARTS));
        assertThat(staged).isBetween(2L, 7L);
        assertThat(warehouse.value("SELECT to_regclass('bronze.events') IS NULL")).as("nothing published").isEqualTo("t");

        var resumed = Datakits.run("PostgresPartitioned", env(source, warehouse), args);

        assertThat(resumed.exitCode()).as(resumed.toString()).isZero();
        assertThat(warehouse.rows(ROWS.formatted("bronze.events"))).isEqualTo(source.rows(ROWS.formatted("public.events")));
        assertThat(warehouse.rows("SELECT status FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("abandoned"), List.of("succeeded"));
        assertThat(warehouse.rows("SELECT details->>'resumed', details->>'copied' FROM bronze.extraction_runs WHERE status = 'succeeded'"))
            .as("the parts staged before the kill are kept, the others copied")
            .containsExactly(List.of(String.valueOf(staged), String.valueOf(8 - staged)));
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE schemaname = 'bronze' AND tablename LIKE '\\_bronze\\_part%'"))
            .as("no table left over from the killed run").isEqualTo("8");
    }

    /** Commits batch after batch, each a row in every partition with the batch's number, until told to stop. */
    /**
     * An UPDATE moves a row between blocks, so block ranges read in two snapshots can hold it twice or not at all: a second run
     * while the first copies them stops, and a run after the first was killed starts the load over instead of resuming it.
     * Here the first run staged blocks 6-end and was copying 0-5 when killed; row 1 then moved from block 0 to the last block.
     */
    @Test
    void aBlockChunkedLoadIsNeitherSharedNorResumedButStartedOver() throws Exception {
        TestDatabase source = TestPostgres.createDatabase("chunks_src");
        source.execute("CREATE TABLE items (id int PRIMARY KEY, pad text)",
            "INSERT INTO items SELECT g, repeat('x', 400) FROM generate_series(1, 230) g", "VACUUM ANALYZE items",
            "CREATE TABLE knobs (delay float8)", "INSERT INTO knobs VALUES (0.05)");
        TestDatabase warehouse = TestPostgres.createDatabase("chunks_wh");
        // Reads of the first run (in its snapshot) take 50 ms a row; the rerun reads the same way without waiting.
        String[] args = {"--table", "items", "--chunks", "2", "--parallelism", "1", "--where", "pg_sleep((SELECT delay FROM knobs)) IS NOT NULL"};
        Path log = Files.createTempFile("chunks-killed", ".log");
        Process first = start(env(source, warehouse), log, args);
        assertThat(await(warehouse, "SELECT to_regclass('bronze.extraction_checkpoints') IS NOT NULL", "t", 60_000, first)
            && await(warehouse, STAGED_PARTS, "1", 60_000, first)).as(Files.readString(log)).isTrue();

        var second = Datakits.run("PostgresPartitioned", env(source, warehouse), args);
        Datakits.assertFailsWithOneLine(second, 3, "Another run is copying the block ranges of bronze.items, which must all be read in one "
            + "snapshot, so it cannot share them. Wait for it to finish, or stop it first.");
        killAfterStagedParts(warehouse, source, first, log, 1);
        source.execute("UPDATE items SET pad = repeat('y', 400) WHERE id = 1", "UPDATE knobs SET delay = 0");
        var rerun = Datakits.run("PostgresPartitioned", env(source, warehouse), args);

        assertThat(source.value("SELECT (ctid::text::point)[0] >= 6 FROM items WHERE id = 1")).as("row 1 moved to the staged blocks").isEqualTo("t");
        assertThat(rerun.exitCode()).as(rerun.toString()).isZero();
        assertThat(rerun.err()).contains("giving up the unfinished load of bronze.items begun by run ", ": block ranges read in its snapshot "
            + "cannot be kept with ones read in this run's (updated rows move between blocks)");
        assertThat(warehouse.rows("SELECT id, md5(pad) FROM bronze.items ORDER BY id")).isEqualTo(source.rows("SELECT id, md5(pad) FROM items ORDER BY id"));
        assertThat(warehouse.rows("SELECT status, coalesce(details->>'copied', '') FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("abandoned", ""), List.of("failed", ""), List.of("succeeded", "2"));
    }

    static void insertBatches(TestDatabase source, int partitions, AtomicInteger committed, AtomicBoolean stop) {
        try (Connection c = source.connect(); var insert = c.prepareStatement(
                "INSERT INTO public.events SELECT -(?::bigint * 100 + p), p, ?, 'batch' FROM generate_series(0, ?) p")) {
            for (int batch = 1; !stop.get(); batch++) {
                insert.setInt(1, batch);
                insert.setInt(2, batch);
                insert.setInt(3, partitions - 1);
                insert.executeUpdate(); // autocommit: a transaction per batch
                committed.set(batch);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void rowsCommittedDuringARunAreInBronzeForEveryPartitionOrForNone() throws Exception {
        int partitions = 6;
        TestDatabase source = source(partitions, 300_000, 100);
        TestDatabase warehouse = TestPostgres.createDatabase("resume_wh");
        var committed = new AtomicInteger();
        var stop = new AtomicBoolean();
        var inserter = CompletableFuture.runAsync(() -> insertBatches(source, partitions, committed, stop), threads);
        for (long end = System.currentTimeMillis() + 30_000; committed.get() < 3 && System.currentTimeMillis() < end; ) {
            Thread.sleep(5);
        }

        int before = committed.get();
        var run = Datakits.run("PostgresPartitioned", env(source, warehouse), "--table", "events", "--parallelism", "3");
        int after = committed.get();
        stop.set(true);
        inserter.get(30, SECONDS);

        assertThat(run.exitCode()).as(run.toString()).isZero();
        var batches = warehouse.rows("SELECT batch, count(*) FROM bronze.events WHERE batch IS NOT NULL GROUP BY batch ORDER BY batch");
        int seen = batches.size();
        assertThat(batches).as("batches 1 to %d, each with a row in all %d partitions", seen, partitions)
            .isEqualTo(IntStream.rangeClosed(1, seen).mapToObj(b -> List.of(b + "", partitions + "")).toList());
        assertThat(seen).as("batches committed before the run started are in bronze").isGreaterThanOrEqualTo(before)
            .as("batches committed while it ran, after its snapshot, are not (%d committed by its end)", after).isLessThan(after);
        assertThat(warehouse.count("bronze.events WHERE batch IS NULL")).isEqualTo(300_000);
    }

    @Test
    void threeShardsLoadWhatOneProcessLoadsAndExactlyOnePublishes() throws Exception {
        TestDatabase source = source(8, 100_000, 100);
        TestDatabase one = TestPostgres.createDatabase("one_wh");
        TestDatabase shared = TestPostgres.createDatabase("shards_wh");

        var alone = Datakits.run("PostgresPartitioned", env(source, one), "--table", "events");
        var started = IntStream.range(0, 3).mapToObj(i -> CompletableFuture.supplyAsync(() -> Datakits.run("PostgresPartitioned",
            env(source, shared), "--table", "events", "--parallelism", "2", "--shard", i + "/3"), threads)).toList();
        var shards = new ArrayList<Datakits.Run>();
        for (var shard : started) {
            shards.add(shard.get(3, MINUTES));
        }

        assertThat(alone.exitCode()).as(alone.toString()).isZero();
        assertThat(shards).allSatisfy(run -> assertThat(run.exitCode()).as(run.toString()).isZero());
        String rows = "SELECT id, part, batch, payload, _bronze_partition FROM bronze.events ORDER BY id";
        assertThat(shared.rows(rows)).hasSize(100_000).isEqualTo(one.rows(rows));
        var runs = shared.rows("SELECT status, ended_at, details FROM bronze.extraction_runs ORDER BY status, ended_at");
        assertThat(runs).as("a run per shard; the one that found every part staged published, the others staged theirs: %s", runs)
            .extracting(run -> run.get(0)).containsExactly("staged", "staged", "succeeded");
        assertThat(shared.value("SELECT string_agg(details->>'shard', ',' ORDER BY details->>'shard') FROM bronze.extraction_runs"))
            .isEqualTo("0/3,1/3,2/3");
        assertThat(shared.value("SELECT sum((details->>'copied')::int) FROM bronze.extraction_runs"))
            .as("each of the 8 parts copied by exactly one shard").isEqualTo("8");

        var outOfRange = Datakits.run("PostgresPartitioned", env(source, shared), "--table", "events", "--shard", "3/3");

        assertThat(outOfRange.exitCode()).as(outOfRange.toString()).isEqualTo(2);
        assertThat(outOfRange.err()).contains("out of range");
    }

    /** Holds some of the stream's advisory locks (as PartStore and StreamLock name them) until the returned connection commits. */
    static Connection holdLock(TestDatabase warehouse, String... what) throws SQLException {
        Connection c = warehouse.connect();
        c.setAutoCommit(false);
        try (var st = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))")) {
            for (String lock : what) {
                st.setString(1, "datakit stream bronze.events " + lock);
                st.execute();
            }
        }
        return c;
    }

    static final String WAITING_FOR_A_LOCK = "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted";

    @Test
    void aPartAnotherSessionHoldsIsWaitedForAndThenCopiedNotLeftBehind() throws Exception {
        TestDatabase source = source(4, 20_000, 50);
        TestDatabase warehouse = TestPostgres.createDatabase("resume_wh");
        Datakits.run("BronzeMigrate", Map.of("WAREHOUSE_DATABASE_URL", warehouse.url()));

        Connection holder = holdLock(warehouse, "part public.events_p1"); // as a killed run's lingering session would
        var run = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresPartitioned", env(source, warehouse), "--table", "events"), threads);
        assertThat(await(warehouse, WAITING_FOR_A_LOCK, "t", 60_000, null)).as("the run waits for the part").isTrue();
        holder.commit();
        holder.close();

        var done = run.get(2, MINUTES);
        assertThat(done.exitCode()).as(done.toString()).isZero();
        assertThat(warehouse.value("SELECT status FROM bronze.extraction_runs")).isEqualTo("succeeded");
        assertThat(warehouse.rows(ROWS.formatted("bronze.events"))).isEqualTo(source.rows(ROWS.formatted("public.events")));
    }

    @Test
    void shardsThatFindTheLoadPublishedByAnotherEndStagedAndOnlyThePublisherSucceeds() throws Exception {
        TestDatabase source = source(8, 200_000, 300);
        TestDatabase warehouse = TestPostgres.createDatabase("shards_wh");
        Datakits.run("BronzeMigrate", Map.of("WAREHOUSE_DATABASE_URL", warehouse.url()));
        Connection copying = holdLock(warehouse, IntStream.range(0, 8).mapToObj(i -> "part public.events_p" + i).toArray(String[]::new));

        var started = IntStream.range(0, 3).mapToObj(i -> CompletableFuture.supplyAsync(() -> Datakits.run("PostgresPartitioned",
            env(source, warehouse), "--table", "events", "--parallelism", "1", "--shard", i + "/3"), threads)).toList();
        assertThat(await(warehouse, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", "3", 120_000, null))
            .as("every shard joined the load and waits for its first part").isTrue();
        Connection publishing = holdLock(warehouse, "load"); // every shard that finishes now waits to publish
        copying.commit();
        copying.close();
        assertThat(await(warehouse, STAGED_PARTS, "8", 120_000, null)).isTrue();
        publishing.commit();
        publishing.close();
        for (var shard : started) {
            var run = shard.get(2, MINUTES);
            assertThat(run.exitCode()).as(run.toString()).isZero();
        }

        assertThat(warehouse.rows("SELECT status, details->>'published' FROM bronze.extraction_runs ORDER BY status"))
            .containsExactly(List.of("staged", "true"), List.of("staged", "true"), List.of("succeeded", "true"));
        assertThat(warehouse.rows(ROWS.formatted("bronze.events"))).hasSize(200_000).isEqualTo(source.rows(ROWS.formatted("public.events")));
    }
}
