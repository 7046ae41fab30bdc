package datakit.tableset;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review probes of postgres-extract over a set of tables (b431639, 5150b7f): each test either shows a defect (it fails on the
 * code reviewed) or pins a promise of docs/whole-schema.md (it passes, a regression test).
 */
class TableSetReviewProbeIT {
    static SourceAndWarehouse db;
    @TempDir
    Path dir;

    @BeforeAll
    static void createDatabases() {
        db = SourceAndWarehouse.create("setprobe",
            // ddl: a table that holds the run (the biggest, loaded first), and tables changed by DDL after the snapshot.
            "CREATE SCHEMA ddl",
            "CREATE TABLE ddl.hold (id int PRIMARY KEY, pad text)",
            "INSERT INTO ddl.hold SELECT g, repeat('h', 200) FROM generate_series(1, 2000) g",
            "CREATE TABLE ddl.tr (id int PRIMARY KEY)",
            "INSERT INTO ddl.tr SELECT generate_series(1, 10)",
            "CREATE TABLE ddl.rc (id int PRIMARY KEY)",
            "INSERT INTO ddl.rc SELECT generate_series(1, 10)",
            "CREATE TABLE ddl.gone (id int PRIMARY KEY)",
            "INSERT INTO ddl.gone SELECT generate_series(1, 10)",
            "CREATE TABLE ddl.rw (id int PRIMARY KEY, v int)",
            "INSERT INTO ddl.rw SELECT g, g FROM generate_series(1, 10) g",
            // resv: source tables whose bronze names are the bronze schema's bookkeeping tables, beside a plain one.
            "CREATE SCHEMA resv",
            "CREATE TABLE resv.extraction_runs (id int)", "INSERT INTO resv.extraction_runs VALUES (1)",
            "CREATE TABLE resv.schema_changes (id int)", "INSERT INTO resv.schema_changes VALUES (1)",
            "CREATE TABLE resv.table_set_runs (id int)", "INSERT INTO resv.table_set_runs VALUES (1)",
            "CREATE TABLE resv.zz (id int)", "INSERT INTO resv.zz SELECT generate_series(1, 5)",
            // pre: tables refused before their load (a column named as bronze's metadata), beside a plain one.
            "CREATE SCHEMA pre",
            "DO $$ BEGIN FOR i IN 1..5 LOOP EXECUTE format('CREATE TABLE pre.bad%s (id int, _bronze_run_id text)', i); END LOOP; END $$",
            "CREATE TABLE pre.zz (id int)", "INSERT INTO pre.zz SELECT generate_series(1, 5)",
            // dry: more tables than the source pool holds connections.
            "CREATE SCHEMA dry",
            "DO $$ BEGIN FOR i IN 1..6 LOOP EXECUTE format('CREATE TABLE dry.d%s (id int)', i); END LOOP; END $$",
            // met: a table that loads and one that fails (a view on its bronze table).
            "CREATE SCHEMA met",
            "CREATE TABLE met.ok (id int)", "INSERT INTO met.ok SELECT generate_series(1, 3)",
            "CREATE TABLE met.bad (id int)", "INSERT INTO met.bad SELECT generate_series(1, 3)",
            // busy: two runs of one set at once.
            "CREATE SCHEMA busy",
            "CREATE TABLE busy.a (id int)", "INSERT INTO busy.a VALUES (1)",
            // mix: a table of the set whose stream another run holds.
            "CREATE SCHEMA mix",
            "CREATE TABLE mix.x (id int)", "INSERT INTO mix.x SELECT generate_series(1, 4)",
            "CREATE TABLE mix.y (id int)", "INSERT INTO mix.y SELECT generate_series(1, 5)",
            // snap: the exported snapshot ends while the first table copies.
            "CREATE SCHEMA snap",
            "CREATE TABLE snap.big (id int PRIMARY KEY, pad text)",
            "INSERT INTO snap.big SELECT g, repeat('p', 100) FROM generate_series(1, 300000) g",
            "CREATE TABLE snap.a (id int)", "INSERT INTO snap.a SELECT generate_series(1, 3)",
            "CREATE TABLE snap.b (id int)", "INSERT INTO snap.b SELECT generate_series(1, 4)",
            // res: a failed run, the source changing, a completing run that fails again, a third and a --restart.
            "CREATE SCHEMA res",
            "CREATE TABLE res.r1 (id int)", "INSERT INTO res.r1 SELECT generate_series(1, 1)",
            "CREATE TABLE res.r2 (id int)", "INSERT INTO res.r2 SELECT generate_series(1, 2)",
            "CREATE TABLE res.r3 (id int)", "INSERT INTO res.r3 SELECT generate_series(1, 3)",
            "ANALYZE");
    }

    static Datakits.Run extract(String... args) {
        return Datakits.run("PostgresExtract", db.env(), args);
    }

    /** The environment with connections that time out at once (1 s, no retries): a pool that runs dry fails fast. */
    static Map<String, String> impatient() {
        var env = new HashMap<>(db.env());
        env.put("SOURCE_PG_CONNECT_TIMEOUT", "1");
        env.put("SOURCE_PG_MAX_RETRIES", "0");
        return env;
    }

    static String count(String table) {
        return db.warehouse().value("SELECT count(*) FROM " + table);
    }

    /** Waits until a postgres-extract session on the source waits for a lock: the run has exported its snapshot. */
    static void waitForALockWait() throws InterruptedException {
        waitFor(() -> "true".equals(db.source().value("SELECT coalesce(bool_or(wait_event_type = 'Lock'), false)::text FROM "
            + "pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'postgres-extract%'")));
    }

    /**
     * Runs the set {@code tables} of schema ddl with ddl.hold locked, so that the run exports its snapshot and then waits
     * (for ddl.hold's size); {@code changes} commit then, after the snapshot, before any table is read.
     */
    static Datakits.Run runWithChangesAfterTheSnapshot(String target, List<String> tables, String... changes) throws Exception {
        CompletableFuture<Datakits.Run> run;
        try (Connection blocker = db.source().connect()) {
            blocker.setAutoCommit(false);
            blocker.createStatement().execute("LOCK TABLE ddl.hold IN ACCESS EXCLUSIVE MODE");
            var args = new ArrayList<String>();
            Stream.concat(Stream.of("ddl.hold"), tables.stream()).forEach(t -> args.addAll(List.of("--table", t)));
            args.addAll(List.of("--parallelism", "1", "--target-schema", target));
            run = CompletableFuture.supplyAsync(() -> extract(args.toArray(String[]::new)));
            waitForALockWait();
            db.source().execute(changes);
            blocker.rollback();
        }
        return run.get(120, TimeUnit.SECONDS);
    }

    /**
     * TRUNCATE and table-rewriting ALTER TABLE are not MVCC-safe: a snapshot taken before them sees the table empty. A table
     * truncated (and refilled in the same transaction) or rewritten between the set's snapshot and its turn must land as the
     * snapshot had it (pg_dump locks every table ACCESS SHARE right after taking its snapshot for this), or fail; never land
     * empty with exit 0. At the snapshot each held 10 rows, and at no moment did either hold none.
     */
    @Test
    void aTableTruncatedOrRewrittenAfterTheSnapshotDoesNotLandEmpty() throws Exception {
        var result = runWithChangesAfterTheSnapshot("set_ddl", List.of("ddl.tr", "ddl.rw"),
            "BEGIN; TRUNCATE ddl.tr; INSERT INTO ddl.tr SELECT generate_series(101, 105); COMMIT",
            "ALTER TABLE ddl.rw ALTER COLUMN v TYPE bigint");
        var soft = new SoftAssertions();
        if (result.exitCode() == 0) {
            soft.assertThat(count("set_ddl.tr")).as("ddl.tr (TRUNCATE + INSERT after the snapshot), exit 0\n" + result).isEqualTo("10");
            soft.assertThat(count("set_ddl.rw")).as("ddl.rw (ALTER COLUMN TYPE after the snapshot), exit 0").isEqualTo("10");
        } else {
            soft.assertThat(result.out()).as("a failure names the changed tables\n" + result)
                .containsPattern("ddl\\.tr +-> set_ddl\\.tr +FAILED").containsPattern("ddl\\.rw +-> set_ddl\\.rw +FAILED");
        }
        soft.assertAll();
    }

    /**
     * A table dropped and created again, or dropped, between the snapshot and its turn: it fails (or lands as the snapshot
     * had it), with a message that says what happened, not a Java exception's text.
     */
    @Test
    void aTableDroppedOrRecreatedAfterTheSnapshotFailsWithAClearMessage() throws Exception {
        var result = runWithChangesAfterTheSnapshot("set_ddl2", List.of("ddl.rc", "ddl.gone"),
            "BEGIN; DROP TABLE ddl.rc; CREATE TABLE ddl.rc (id int PRIMARY KEY); INSERT INTO ddl.rc SELECT generate_series(201, 205); COMMIT",
            "DROP TABLE ddl.gone");
        assertThat(result.out()).as(result.toString()).doesNotContain("Cannot invoke", "java.lang");
        if (!java.util.regex.Pattern.compile("ddl\\.rc +-> set_ddl2\\.rc +FAILED").matcher(result.out()).find()) {
            assertThat(count("set_ddl2.rc")).as(result.toString()).isEqualTo("10");
        }
    }

    /**
     * A table that fails before its load starts (here: its bronze name is a bookkeeping table's) must cost only itself. Each
     * such failure keeps the source connection its plan took (FullExtract.load throws before the try that closes the
     * session), so after pool-size failures the next table cannot get a connection.
     */
    @Test
    void tablesThatFailBeforeTheirLoadDoNotStarveTheOthersOfConnections() {
        var run = Datakits.run("PostgresExtract", impatient(), "--schema", "pre", "--parallelism", "1", "--target-schema", "set_pre");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.out()).as(run.toString()).contains("pre.zz", "1 loaded, 5 failed")
            .doesNotContainPattern("pre\\.zz +-> set_pre\\.zz +FAILED");
        assertThat(count("set_pre.zz")).isEqualTo("5");
    }

    /**
     * The reserved-name refusal, in a set, must not send the user to --target-table alone, which a set refuses: the set is
     * refused before anything is written, saying to leave the table out.
     */
    @Test
    void aTableWithABookkeepingNameIsRefusedWithAdviceASetCanFollow() {
        var run = extract("--table", "resv.schema_changes", "--table", "resv.zz", "--target-schema", "set_resv_msg");
        Datakits.assertFailsWithOneLine(run, 2, "resv.schema_changes would land in set_resv_msg.schema_changes, a name the bronze schema "
            + "keeps for its own tables", "Leave it out of the set with --exclude-table");
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_namespace WHERE nspname = 'set_resv_msg'")).isEqualTo("0");
    }

    /** --dry-run of a set plans every table; each table's dry run keeps its source session, so the pool runs dry after 4. */
    @Test
    void theDryRunOfMoreTablesThanThePoolHoldsPlansThemAll() {
        var dry = Datakits.run("PostgresExtract", impatient(), "--schema", "dry", "--parallelism", "1", "--target-schema", "set_dry",
            "--dry-run");
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.out()).as(dry.toString()).contains("tables     6: 6 planned, 0 failed");
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_namespace WHERE nspname = 'set_dry'")).isEqualTo("0");
    }

    /** --dry-run --json: one JSON object, status "dry run", each table planned; nothing written. */
    @Test
    void theDryRunWithJsonPrintsOneObjectAndWritesNothing() {
        var dry = extract("--table", "met.*", "--target-schema", "set_dry_json", "--dry-run", "--json");
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.out().lines().count()).as(dry.toString()).isEqualTo(1);
        assertThat(dry.out()).startsWith("{\"status\":\"dry run\"").contains("\"status\":\"planned\"", "\"failed\":[]");
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_namespace WHERE nspname = 'set_dry_json'")).isEqualTo("0");
    }

    /** whole-schema.md: "When no pattern matches any table the run stops with exit 2 before anything is written." */
    @Test
    void patternsThatMatchNothingWriteNothing() {
        Datakits.assertFailsWithOneLine(extract("--table", "nosuch_review.*", "--target-schema", "set_nothing"), 2,
            "--table 'nosuch_review.*' matched no table on the source");
        Datakits.assertFailsWithOneLine(extract("--table", "busy.a", "--table", "snap.a", "--target-schema", "set_clash"), 2, "would both land in set_clash.a");
        assertThat(db.warehouse().value("SELECT string_agg(nspname, ',') FROM pg_namespace WHERE nspname IN ('set_nothing', 'set_clash')"))
            .as("bronze schemas made by refused runs").isNull();
    }

    /**
     * whole-schema.md: "--metrics-file writes the metrics of every table (labelled with its bronze table, a failed table with
     * datakit_run_success 0)": a table loaded in a run where another failed is a success for its stream.
     */
    @Test
    void theMetricsOfATableLoadedBesideAFailedOneSaySuccess() throws Exception {
        var first = extract("--schema", "met", "--target-schema", "set_met");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        db.warehouse().execute("CREATE VIEW public.on_met_bad AS SELECT * FROM set_met.bad");
        try {
            Path metrics = dir.resolve("set.prom");
            var run = extract("--schema", "met", "--target-schema", "set_met", "--restart", "--metrics-file", metrics.toString());
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
            String text = Files.readString(metrics);
            assertThat(text).contains("datakit_run_success{datakit=\"postgres-extract\",stream=\"set_met.bad\"} 0")
                .contains("datakit_rows{datakit=\"postgres-extract\",stream=\"set_met.ok\"} 3")
                .contains("datakit_run_success{datakit=\"postgres-extract\",stream=\"set_met.ok\"} 1");
        } finally {
            db.warehouse().execute("DROP VIEW public.on_met_bad");
        }
    }

    /** Two runs of one set at once: the second stops with exit 3, and with --json prints one object saying so. */
    @Test
    void aSecondRunOfTheSameSetStopsWithExit3() throws Exception {
        CompletableFuture<Datakits.Run> first;
        try (Connection blocker = db.source().connect()) {
            blocker.setAutoCommit(false);
            blocker.createStatement().execute("LOCK TABLE busy.a IN ACCESS EXCLUSIVE MODE");
            first = CompletableFuture.supplyAsync(() -> extract("--schema", "busy", "--target-schema", "set_busy"));
            waitForALockWait();
            var second = extract("--schema", "busy", "--target-schema", "set_busy", "--json");
            Datakits.assertFailsWithOneLine(second, 3, "Another run of the table set postgres-extract --schema 'busy'", "is in progress");
            assertThat(second.out().lines().count()).isEqualTo(1);
            assertThat(second.out()).startsWith("{\"status\":\"failed\"").contains("\"exit_code\":3");
            blocker.rollback();
        }
        assertThat(first.get(60, TimeUnit.SECONDS).exitCode()).isZero();
        assertThat(db.warehouse().value("SELECT string_agg(status, ',') FROM set_busy.table_set_runs")).isEqualTo("succeeded");
    }

    /**
     * A table whose stream another run holds fails alone, the others load; --json is one object with the failure; the next
     * run completes the set.
     */
    @Test
    void aTableHeldByAnotherRunFailsAloneAndTheNextRunCompletesTheSet() throws Exception {
        try (Connection holder = db.warehouse().connect()) {
            holder.setAutoCommit(false);
            holder.createStatement().execute("SELECT pg_advisory_xact_lock(hashtextextended('datakit stream set_mix.x', 0))");
            var run = extract("--schema", "mix", "--target-schema", "set_mix", "--json");
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
            assertThat(run.out().lines().count()).as(run.toString()).isEqualTo(1);
            assertThat(run.out()).startsWith("{\"status\":\"failed\"").contains("\"failed\":[\"mix.x\"]",
                "Another run of set_mix.x is in progress");
            assertThat(count("set_mix.y")).isEqualTo("5");
            holder.rollback();
        }
        var next = extract("--schema", "mix", "--target-schema", "set_mix");
        assertThat(next.exitCode()).as(next.toString()).isZero();
        assertThat(next.out()).contains("tables     2: 1 loaded, 0 failed, 1 kept");
        assertThat(count("set_mix.x")).isEqualTo("4");
    }

    /**
     * The session that exported the snapshot ends while the first table copies: that table is in, the others fail (not
     * started) with the reason, exit 1, one JSON object; the next run loads what is missing.
     */
    @Test
    void whenTheExportedSnapshotEndsTheTablesNotStartedFailAndTheNextRunLoadsThem() throws Exception {
        var run = CompletableFuture.supplyAsync(() -> extract("--schema", "snap", "--parallelism", "1", "--target-schema", "set_snap",
            "--json"));
        // The exporting session sits idle in its transaction after reading the sizes; the first table's session copies.
        waitFor(() -> "1".equals(db.source().value("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
            + "application_name LIKE 'postgres-extract%' AND state = 'active' AND query LIKE 'COPY%snap%big%'")));
        assertThat(db.source().value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
            + "AND application_name LIKE 'postgres-extract%' AND state = 'idle in transaction' AND query LIKE '%relpages%'"))
            .isEqualTo("1");
        var result = run.get(120, TimeUnit.SECONDS);
        assertThat(result.exitCode()).as(result.toString()).isEqualTo(1);
        assertThat(result.out().lines().count()).as(result.toString()).isEqualTo(1);
        assertThat(result.out()).contains("\"failed\":[\"snap.a\",\"snap.b\"]", "\"status\":\"succeeded\"");
        assertThat(count("set_snap.big")).isEqualTo("300000");
        var next = extract("--schema", "snap", "--parallelism", "1", "--target-schema", "set_snap");
        assertThat(next.exitCode()).as(next.toString()).isZero();
        assertThat(next.out()).contains("tables     3: 2 loaded, 0 failed, 1 kept");
        assertThat(count("set_snap.a")).isEqualTo("3");
        assertThat(count("set_snap.b")).isEqualTo("4");
    }

    /**
     * Run 1 fails on r2; r1 is then dropped at the source and r3 changes; run 2 (r2 still failing) keeps r3 from run 1 and
     * names r1 vanished; run 3 loads r2 and still keeps r3 (read by run 1); --restart loads all in one snapshot.
     */
    @Test
    void aFailedRunThenChangesThenTwoMoreRunsAndARestart() {
        db.warehouse().execute("CREATE SCHEMA IF NOT EXISTS set_res", "CREATE TABLE set_res.r2 (id int)",
            "CREATE VIEW public.on_res_r2 AS SELECT * FROM set_res.r2");
        // A table not loaded by the datakits is refused (it is not a bronze table): r2 fails.
        var first = extract("--schema", "res", "--target-schema", "set_res", "--json");
        assertThat(first.exitCode()).as(first.toString()).isEqualTo(1);
        assertThat(first.out()).contains("\"failed\":[\"res.r2\"]");
        db.source().execute("DROP TABLE res.r1", "INSERT INTO res.r3 VALUES (4)");
        try {
            var second = extract("--schema", "res", "--target-schema", "set_res", "--json");
            assertThat(second.exitCode()).as(second.toString()).isEqualTo(1);
            assertThat(second.out()).contains("\"consistent\":false", "\"failed\":[\"res.r2\"]", "\"vanished\":[\"res.r1\"]",
                "\"kept\":[{");
            assertThat(count("set_res.r1")).as("a vanished table's bronze is kept").isEqualTo("1");
            assertThat(count("set_res.r3")).as("kept as run 1 read it").isEqualTo("3");

            db.warehouse().execute("DROP VIEW public.on_res_r2", "DROP TABLE set_res.r2");
            var third = extract("--schema", "res", "--target-schema", "set_res");
            assertThat(third.exitCode()).as(third.toString()).isZero();
            assertThat(third.out()).contains("tables     2: 1 loaded, 0 failed, 1 kept", "res.r3  kept, loaded by run");
            assertThat(count("set_res.r2")).isEqualTo("2");
            assertThat(count("set_res.r3")).isEqualTo("3");

            var restart = extract("--schema", "res", "--target-schema", "set_res", "--restart", "--json");
            assertThat(restart.exitCode()).as(restart.toString()).isZero();
            assertThat(restart.out()).contains("\"consistent\":true").doesNotContain("\"kept\"");
            assertThat(count("set_res.r3")).isEqualTo("4");
            assertThat(db.warehouse().value("SELECT string_agg(status || ':' || (completes IS NOT NULL), ',' ORDER BY started_at) FROM "
                + "set_res.table_set_runs")).isEqualTo("failed:false,failed:true,succeeded:true,succeeded:false");
        } finally {
            db.source().execute("CREATE TABLE IF NOT EXISTS res.r1 (id int)", "DELETE FROM res.r3 WHERE id = 4");
        }
    }

    static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 60 s").isLessThan(deadline);
            Thread.sleep(10);
        }
    }
}
