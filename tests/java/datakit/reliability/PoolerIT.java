package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.config.ConnectionResolver;
import datakit.config.ConnectionSettings;
import datakit.config.Environment;
import datakit.config.PgParam;
import datakit.config.Role;
import datakit.db.Database;
import datakit.error.DatakitException;
import datakit.error.ExitCode;
import datakit.sandbox.PgBouncer.PoolMode;
import datakit.sandbox.PgBouncer;
import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The datakits through PgBouncer with a new install's settings, in transaction and in session pooling, in
 * front of the shared test server, on the source and on the warehouse: every mode loads what the source
 * holds, the session settings hold per transaction, nothing the datakits set or prepare is left on a pooled
 * server connection for the next client, a stream's lock never outlives its run, and a run that lost its lock
 * commits nothing more.
 */
class PoolerIT {
    /** Server connections per database and user: enough for a partitioned run and a lock holder at once, few enough to be shared. */
    private static final int POOL_SIZE = 6;
    private static final String SOURCE_SQL = """
        CREATE TABLE public.orders (id int PRIMARY KEY, status text NOT NULL, doc jsonb, updated_at timestamptz NOT NULL);
        INSERT INTO public.orders SELECT g, 'status ' || g, jsonb_build_object('n', g, 'tag', 't' || g % 3),
            timestamptz '2026-01-01' + g * interval '1 minute' FROM generate_series(1, 3000) g;
        CREATE SEQUENCE public.counter;
        """;

    /** What a client that sets nothing sees on a server connection of the test server: its defaults, nothing prepared or locked. */
    private static final Map<String, String> SERVER_DEFAULTS = Map.ofEntries(
        Map.entry("default_transaction_read_only", "off"), Map.entry("statement_timeout", "0"), Map.entry("row_security", "on"),
        Map.entry("jit", "on"), Map.entry("work_mem", "4MB"), Map.entry("search_path", "\"$user\", public"), Map.entry("role", "none"),
        Map.entry("idle_in_transaction_session_timeout", "0"), Map.entry("set for the session", ""),
        Map.entry("prepared statements", "0"), Map.entry("advisory locks", "0"));

    private static PgBouncer transaction;
    private static PgBouncer session;

    @BeforeAll
    static void startPoolers() {
        transaction = PgBouncer.start(TestPostgres.server(), PoolMode.TRANSACTION, POOL_SIZE);
        session = PgBouncer.start(TestPostgres.server(), PoolMode.SESSION, POOL_SIZE);
    }

    @AfterAll
    static void stopPoolers() {
        transaction.close();
        session.close();
    }

    private static PgBouncer pooler(PoolMode mode) {
        return mode == PoolMode.TRANSACTION ? transaction : session;
    }

    /** A source and a warehouse made on the server, and the same two databases as seen through {@code pooler}. */
    private record Pooled(SourceAndWarehouse direct, TestDatabase source, TestDatabase warehouse) {
        static Pooled create(String prefix, PgBouncer pooler) {
            var direct = SourceAndWarehouse.create(prefix, SOURCE_SQL);
            return new Pooled(direct, new TestDatabase(pooler, direct.source().name()), new TestDatabase(pooler, direct.warehouse().name()));
        }

        Map<String, String> env(String... more) {
            var env = new HashMap<String, String>(Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()));
            for (int i = 0; i < more.length; i += 2) {
                env.put(more[i], more[i + 1]);
            }
            return env;
        }
    }

    @ParameterizedTest
    @EnumSource(PoolMode.class)
    void everyModeLoadsWhatTheSourceHoldsThroughThePoolerRunAfterRun(PoolMode mode) {
        var db = Pooled.create("pooled_" + mode.name().toLowerCase(), pooler(mode));
        for (int round = 1; round <= 3; round++) {
            db.direct().source().execute("UPDATE public.orders SET status = 'round " + round + "', updated_at = timestamptz '2027-01-01' "
                + "+ id * interval '1 second' + " + round + " * interval '1 day' WHERE id % 100 = " + round);
            succeeds(Datakits.run("PostgresExtract", db.env(), "--table", "public.orders"));
            succeeds(Datakits.run("PostgresIncremental", db.env(), "--table", "public.orders", "--cursor-field", "updated_at",
                "--target-table", "orders_inc", "--chunk-rows", "1000"));
            succeeds(Datakits.run("PostgresPartitioned", db.env(), "--table", "public.orders", "--chunks", "3", "--parallelism", "2",
                "--target-table", "orders_parts"));
            succeeds(Datakits.run("PostgresJsonb", db.env(), "--table", "public.orders", "--flatten", "doc", "--target-table", "orders_json"));
            succeeds(Datakits.run("PostgresDiscover", db.env(), "--json"));
            succeeds(Datakits.run("PostgresHealth", db.env(), "--json"));
            for (String table : List.of("orders", "orders_inc", "orders_parts", "orders_json")) {
                var compared = RowSets.compare("bronze." + table + " after round " + round, db.direct().source(),
                    "SELECT id, status, updated_at FROM public.orders", db.direct().warehouse(), "SELECT id, status, updated_at FROM bronze." + table);
                assertThat(compared).as(pooler(mode).description()).isEqualTo(new KillLoop.Outcome(compared.compared(), 3000, 0, 0, 0));
            }
        }
        assertNothingLeftOnTheServerConnections(db);
    }

    @Test
    void statementTimeoutFromTheSettingsHoldsThroughTransactionPooling() {
        var db = Pooled.create("pooled_timeout", transaction);
        var viaVariable = Datakits.run("PostgresExtract", db.env("SOURCE_PG_STATEMENT_TIMEOUT", "300", "SOURCE_PG_MAX_RETRIES", "0"),
            "--query", "SELECT id, pg_sleep(0.01) AS slept FROM public.orders", "--target-table", "slow");
        Datakits.assertFailsWithOneLine(viaVariable, 1, "canceling statement due to statement timeout", "raise statement_timeout");

        var viaOptions = Datakits.run("PostgresExtract", db.env("SOURCE_PG_OPTIONS", "-c statement_timeout=300", "SOURCE_PG_MAX_RETRIES", "0"),
            "--query", "SELECT id, pg_sleep(0.01) AS slept FROM public.orders", "--target-table", "slow");
        Datakits.assertFailsWithOneLine(viaOptions, 1, "canceling statement due to statement timeout");
        assertThat(db.direct().warehouse().value("SELECT to_regclass('bronze.slow') IS NULL")).isEqualTo("t");
    }

    @Test
    void theSourceStaysReadOnlyThroughTransactionPooling() {
        var db = Pooled.create("pooled_readonly", transaction);
        var run = Datakits.run("PostgresExtract", db.env(), "--query", "SELECT nextval('public.counter') AS n", "--target-table", "counter");
        Datakits.assertFailsWithOneLine(run, 2, "cannot execute nextval() in a read-only transaction");
        assertThat(db.direct().source().value("SELECT last_value || ' ' || is_called FROM public.counter")).isEqualTo("1 false");
    }

    @Test
    void nothingTheDatakitsSetLeaksToOtherClientsOfThePooledServerConnections() {
        var db = Pooled.create("pooled_leaks", transaction);
        var env = db.env("SOURCE_PG_OPTIONS", "-c work_mem=7MB", "SOURCE_PG_STATEMENT_TIMEOUT", "1h",
            "WAREHOUSE_PG_OPTIONS", "--work-mem=9MB", "WAREHOUSE_PG_STATEMENT_TIMEOUT", "2h");
        for (int i = 0; i < 3; i++) {
            succeeds(Datakits.run("PostgresExtract", env, "--table", "public.orders"));
            succeeds(Datakits.run("PostgresPartitioned", env, "--table", "public.orders", "--chunks", "3", "--parallelism", "2",
                "--target-table", "orders_parts"));
        }
        assertNothingLeftOnTheServerConnections(db);
    }

    @Test
    void streamLocksNeverOutliveTheirRunsOnPooledServerConnections() throws Exception {
        var db = Pooled.create("pooled_locks", transaction);
        String slot = "pooled_locks_" + db.direct().source().name();
        try {
            // CDC streams through a replication connection, which no pooler carries: its source is the server itself.
            var cdc = new HashMap<>(db.env());
            cdc.put("SOURCE_DATABASE_URL", db.direct().source().url());
            var exits = new ArrayList<String>();
            for (int round = 1; round <= 4; round++) {
                db.direct().source().execute("UPDATE public.orders SET updated_at = timestamptz '2027-01-01' + " + round + " * interval '1 day' "
                    + "WHERE id % 10 = " + round);
                var runs = new ArrayList<CompletableFuture<Datakits.Run>>();
                for (int twice = 0; twice < 2; twice++) {
                    runs.add(CompletableFuture.supplyAsync(() -> Datakits.run("PostgresIncremental", db.env(), "--table", "public.orders",
                        "--cursor-field", "updated_at", "--target-table", "orders_inc", "--chunk-rows", "500")));
                    runs.add(CompletableFuture.supplyAsync(() -> Datakits.run("PostgresPartitioned", db.env(), "--table", "public.orders",
                        "--chunks", "3", "--parallelism", "2", "--target-table", "orders_parts")));
                    runs.add(CompletableFuture.supplyAsync(() -> Datakits.run("PostgresCdc", cdc, "--table", "public.orders", "--slot",
                        slot)));
                }
                for (var run : runs) {
                    Datakits.Run done = run.get(3, TimeUnit.MINUTES);
                    exits.add(String.valueOf(done.exitCode()));
                    assertThat(done.exitCode()).as(done.toString()).isIn(0, 2, 3);
                }
            }
            assertThat(exits).as("some runs met another of their stream").contains("0");
            assertThat(db.direct().warehouse().value("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                + "(SELECT oid FROM pg_database WHERE datname = current_database())")).as("advisory locks left in the warehouse").isEqualTo("0");
            succeeds(Datakits.run("PostgresIncremental", db.env(), "--table", "public.orders", "--cursor-field", "updated_at",
                "--target-table", "orders_inc", "--chunk-rows", "500"));
            succeeds(Datakits.run("PostgresPartitioned", db.env(), "--table", "public.orders", "--chunks", "3", "--parallelism", "2",
                "--target-table", "orders_parts"));
            succeeds(Datakits.run("PostgresCdc", cdc, "--table", "public.orders", "--slot", slot));
            var compared = RowSets.compare("bronze.orders_inc", db.direct().source(), "SELECT id, updated_at FROM public.orders",
                db.direct().warehouse(), "SELECT id, updated_at FROM bronze.orders_inc");
            assertThat(compared).isEqualTo(new KillLoop.Outcome("bronze.orders_inc", 3000, 0, 0, 0));
            assertNothingLeftOnTheServerConnections(db);
        } finally {
            db.direct().source().dropReplicationSlots(slot);
        }
    }

    @ParameterizedTest
    @EnumSource(PoolMode.class)
    void theLockOfAKilledRunIsGoneAtOnceThroughThePooler(PoolMode mode) throws Exception {
        var db = Pooled.create("pooled_kill_" + mode.name().toLowerCase(), pooler(mode));
        String[] slowRun = {"--table", "public.orders", "--cursor-field", "updated_at", "--target-table", "orders_inc",
            "--where", "pg_sleep(0.005) IS NOT NULL"};
        Process process = Datakits.start("PostgresIncremental", db.env(), slowRun);
        try {
            // The run holds its lock and reads the source (slowly).
            await(db.direct().warehouse(), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted", "1", process);
            await(db.direct().source(), "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
                + "AND query LIKE '%pg_sleep(0.005)%' AND pid <> pg_backend_pid()", "t", process);
            assertThat(db.direct().warehouse().rows("SELECT a.state, a.backend_xid, a.backend_xmin FROM pg_stat_activity a "
                + "JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted"))
                .as("the lock's idle transaction has no transaction id and holds back no horizon")
                .containsExactly(Arrays.asList("idle in transaction", null, null));
            var busy = Datakits.run("PostgresIncremental", db.env(), slowRun);
            Datakits.assertFailsWithOneLine(busy, 3, "Another run of bronze.orders_inc is in progress");
        } finally {
            process.destroyForcibly(); // SIGKILL: no shutdown hook, no clean close
            process.waitFor(30, TimeUnit.SECONDS);
        }
        long killed = System.nanoTime();
        await(db.direct().warehouse(), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", "0", null);
        assertThat((System.nanoTime() - killed) / 1_000_000).as("ms until the killed run's lock was gone").isLessThan(2_000);
        succeeds(Datakits.run("PostgresIncremental", db.env(), "--table", "public.orders", "--cursor-field", "updated_at",
            "--target-table", "orders_inc"));
        assertThat(db.direct().warehouse().count("bronze.orders_inc")).isEqualTo(3000);
    }

    @Test
    void aRunThatLostItsLockStopsBeforeItsNextCommitAndTheRunThatGotInLoadsTheStream() throws Exception {
        var db = Pooled.create("pooled_lost_lock", transaction);
        String[] slowRun = {"--table", "public.orders", "--cursor-field", "updated_at", "--target-table", "orders_inc",
            "--chunk-rows", "1500", "--where", "pg_sleep(0.0005) IS NOT NULL"};
        var first = inBackground(() -> Datakits.run("PostgresIncremental", db.env(), slowRun));
        TestDatabase warehouse = db.direct().warehouse();
        await(warehouse, "SELECT to_regclass('bronze.extraction_runs') IS NOT NULL", "t", null);
        await(warehouse, "SELECT count(*) FROM bronze.extraction_runs WHERE rows_loaded > 0", "1", null);
        // An admin (or a pooler's idle_transaction_timeout) ends the lock's server connection while the run loads its second part.
        assertThat(warehouse.value("SELECT bool_and(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            + "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).isEqualTo("t");
        var second = Datakits.run("PostgresIncremental", db.env(), slowRun);

        Datakits.assertFailsWithOneLine(first.get(3, TimeUnit.MINUTES), 3, "This run lost its lock on bronze.orders_inc: the warehouse "
            + "connection that held it (server process ", ") ended, and another run of the stream may have started, so this one stopped "
            + "before its next commit; what it committed before is kept.");
        succeeds(second);
        var compared = RowSets.compare("bronze.orders_inc", db.direct().source(), "SELECT id, status, updated_at FROM public.orders",
            warehouse, "SELECT id, status, updated_at FROM bronze.orders_inc");
        assertThat(compared).isEqualTo(new KillLoop.Outcome("bronze.orders_inc", 3000, 0, 0, 0));
        assertThat(warehouse.rows("SELECT status, error LIKE 'This run lost its lock%' FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("failed", "t"), Arrays.asList("succeeded", null));
    }

    @Test
    void aChangeCaptureThatLostItsLockDuringItsSetUpWritesNothingAndMakesNoSlot() throws Exception {
        var db = Pooled.create("pooled_cdc_lost_lock", transaction);
        // CDC streams through a replication connection, which no pooler carries: its source is the server itself.
        TestDatabase source = db.direct().source();
        var env = db.env("SOURCE_DATABASE_URL", source.url());
        String slot = "lost_lock_" + source.name();
        String[] args = {"--table", "public.orders", "--slot", slot};
        TestDatabase warehouse = db.direct().warehouse();
        try {
            CompletableFuture<Datakits.Run> first;
            try (Connection holder = source.connect(); Statement st = holder.createStatement()) {
                holder.setAutoCommit(false);
                // Creating the publication waits for this lock, with the stream's lock taken; then the lock's connection ends.
                st.execute("LOCK TABLE public.orders IN SHARE MODE");
                first = inBackground(() -> Datakits.run("PostgresCdc", env, args));
                await(source, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", "1", null);
                assertThat(warehouse.value("SELECT bool_and(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    + "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).isEqualTo("t");
            }
            Datakits.assertFailsWithOneLine(first.get(3, TimeUnit.MINUTES), 3, "This run lost its lock on ", "stopped before its next commit");
            assertThat(source.value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot + "'")).as("slots made").isEqualTo("0");
            assertThat(warehouse.value("SELECT count(*) FROM bronze.extraction_checkpoints")).as("checkpoints written").isEqualTo("0");

            succeeds(Datakits.run("PostgresCdc", env, args));
            assertThat(warehouse.count("bronze.orders")).isEqualTo(3000);
        } finally {
            source.dropReplicationSlots(slot);
        }
    }

    @Test
    void changeCaptureHonoursTheStatementTimeoutOfEachSide() throws Exception {
        var db = Pooled.create("pooled_cdc_timeout", transaction);
        // CDC streams through a replication connection, which no pooler carries: its source is the server itself.
        var env = db.env("SOURCE_DATABASE_URL", db.direct().source().url(), "SOURCE_PG_MAX_RETRIES", "0", "WAREHOUSE_PG_MAX_RETRIES", "0");
        String slot = "timeout_" + db.direct().source().name();
        String[] args = {"--table", "public.orders", "--slot", slot};
        var sourceTimeout = new HashMap<>(env);
        sourceTimeout.put("SOURCE_PG_STATEMENT_TIMEOUT", "1s");
        var warehouseTimeout = new HashMap<>(env);
        warehouseTimeout.put("WAREHOUSE_PG_STATEMENT_TIMEOUT", "1s");
        try {
            // Creating the publication waits for a lock on the table.
            var creating = whileLocked(db.direct().source(), "LOCK TABLE public.orders IN SHARE MODE", "PostgresCdc", sourceTimeout, args);
            Datakits.assertFailsWithOneLine(creating, 1, "Capturing the changes of slot " + slot + " failed: canceling statement due to "
                + "statement timeout.");

            succeeds(Datakits.run("PostgresCdc", env, args));
            db.direct().source().execute("UPDATE public.orders SET status = 'changed' WHERE id <= 10");
            // The batch's COPY into the change table waits for a lock on it.
            var batch = whileLocked(db.direct().warehouse(), "LOCK TABLE bronze.orders__changes IN ACCESS EXCLUSIVE MODE", "PostgresCdc",
                warehouseTimeout, args);
            Datakits.assertFailsWithOneLine(batch, 1, "canceling statement due to statement timeout");

            succeeds(Datakits.run("PostgresCdc", env, args));
            assertThat(db.direct().warehouse().value("SELECT count(*) FROM bronze.orders__changes WHERE status = 'changed'")).isEqualTo("10");
        } finally {
            db.direct().source().dropReplicationSlots(slot);
        }
    }

    /**
     * A warehouse pool of one serves every mode from a new warehouse on: the first migration, and the runs that hold their
     * stream's lock for their whole length (on a connection of the lock's own, not one of the pool's).
     */
    @Test
    void aPoolOfOneOnEachSideMigratesAndRunsEveryModeThatHoldsAStreamLock() {
        var db = Pooled.create("pooled_one", transaction);
        var env = db.env("WAREHOUSE_PG_POOL_SIZE", "1", "WAREHOUSE_PG_CONNECT_TIMEOUT", "2", "WAREHOUSE_PG_MAX_RETRIES", "0",
            "SOURCE_PG_POOL_SIZE", "1", "SOURCE_PG_CONNECT_TIMEOUT", "2", "SOURCE_PG_MAX_RETRIES", "0");
        succeeds(Datakits.run("PostgresIncremental", env, "--table", "public.orders", "--cursor-field", "updated_at",
            "--target-table", "orders_inc", "--chunk-rows", "1000"));
        succeeds(Datakits.run("PostgresPartitioned", env, "--table", "public.orders", "--chunks", "3", "--target-table", "orders_parts"));
        succeeds(Datakits.run("PostgresExtract", env, "--table", "public.orders"));
        for (String table : List.of("orders", "orders_inc", "orders_parts")) {
            var compared = RowSets.compare("bronze." + table, db.direct().source(), "SELECT id, status, updated_at FROM public.orders",
                db.direct().warehouse(), "SELECT id, status, updated_at FROM bronze." + table);
            assertThat(compared).isEqualTo(new KillLoop.Outcome(compared.compared(), 3000, 0, 0, 0));
        }
        // CDC streams through a replication connection, which no pooler carries: its source is the server itself.
        var cdc = new HashMap<>(env);
        cdc.put("SOURCE_DATABASE_URL", db.direct().source().url());
        String slot = "pool_one_" + db.direct().source().name();
        try {
            succeeds(Datakits.run("PostgresCdc", cdc, "--table", "public.orders", "--slot", slot, "--target-schema", "cdc"));
            db.direct().source().execute("UPDATE public.orders SET status = 'changed' WHERE id <= 10");
            succeeds(Datakits.run("PostgresCdc", cdc, "--table", "public.orders", "--slot", slot, "--target-schema", "cdc"));
        } finally {
            db.direct().source().dropReplicationSlots(slot);
        }
        assertThat(db.direct().warehouse().value("SELECT count(*) FROM cdc.orders__changes WHERE status = 'changed'")).isEqualTo("10");
    }

    @Test
    void aRoleInTheWarehouseOptionsIsRefusedAndTheLoginsDefaultRoleOwnsWhatTheRunsCreate() {
        var db = Pooled.create("pooled_role", transaction);
        TestDatabase warehouse = db.direct().warehouse();
        String owner = "owner_" + warehouse.name();
        String login = "login_" + warehouse.name();
        warehouse.execute("CREATE ROLE " + owner + " NOLOGIN", "CREATE ROLE " + login + " LOGIN PASSWORD 'pw' IN ROLE " + owner,
            "GRANT CREATE ON DATABASE \"" + warehouse.name() + "\" TO " + owner);
        try {
            String url = db.warehouse().url().replaceFirst("//[^@]*@", "//" + login + ":pw@");
            var refused = Datakits.run("PostgresExtract", db.env("WAREHOUSE_DATABASE_URL", url, "WAREHOUSE_PG_OPTIONS", "-c role=" + owner),
                "--table", "public.orders");
            Datakits.assertFailsWithOneLine(refused, 2, "The warehouse options from WAREHOUSE_PG_OPTIONS is \"-c role=" + owner + "\": it "
                + "sets role, which the datakits cannot apply to every connection", "ALTER ROLE " + login + " SET role = " + owner + ". Fix it there.");

            warehouse.execute("ALTER ROLE " + login + " SET role = " + owner);
            succeeds(Datakits.run("PostgresExtract", db.env("WAREHOUSE_DATABASE_URL", url), "--table", "public.orders"));
            succeeds(Datakits.run("PostgresIncremental", db.env("WAREHOUSE_DATABASE_URL", url), "--table", "public.orders",
                "--cursor-field", "updated_at", "--target-table", "orders_inc"));
            assertThat(warehouse.rows("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'bronze'::regnamespace "
                + "AND relkind = 'r' UNION SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'bronze'"))
                .as("the owner of the bronze schema and of its tables").containsExactly(List.of(owner));
            assertThat(warehouse.count("bronze.orders_inc")).isEqualTo(3000);
        } finally {
            warehouse.execute("DROP SCHEMA IF EXISTS bronze CASCADE", "DROP OWNED BY " + login + ", " + owner, "DROP ROLE " + login,
                "DROP ROLE " + owner);
        }
    }

    @Test
    void aTransactionModeThatReachesTheSettingsIsRefusedAsASettingNamingWhereItCameFrom() {
        var db = Pooled.create("pooled_mode", transaction);
        var env = new Environment(Map.of("WAREHOUSE_DATABASE_URL", db.warehouse().url()), Map.of(), ".env", Path.of("/nonexistent"), "x");
        var s = new ConnectionResolver(env, warning -> { }).resolve(Role.WAREHOUSE, null, "test");
        // The resolver refuses it; settings made some other way meet the server's refusal, which no retry fixes.
        var withMode = new ConnectionSettings(s.role(), s.host(), s.port(), s.database(), s.username(), s.password(), s.sslmode(),
            s.sslcert(), s.sslkey(), s.sslrootcert(), s.connectTimeoutSeconds(), s.applicationName(), "-c transaction_isolation=serializable",
            null, s.poolMin(), s.poolSize(), s.maxRetries(), s.driverProperties(), Map.of(PgParam.OPTIONS, "WAREHOUSE_PG_OPTIONS"), false);
        try (Database warehouse = Database.open(withMode, Database.Access.READ_WRITE)) {
            var refused = assertThrows(DatakitException.class, () -> warehouse.inTransaction(connection -> null));
            assertThat(refused.exitCode()).isEqualTo(ExitCode.BAD_INPUT);
            assertThat(refused.getMessage()).isEqualTo("The warehouse refused a setting: SET TRANSACTION ISOLATION LEVEL must be called "
                + "before any query. The datakits set the options from WAREHOUSE_PG_OPTIONS at the start of each transaction (SET LOCAL); "
                + "fix it there.");
        }
    }

    /** Runs {@code run} on a thread of its own (the common pool may have a single one, which another run may hold). */
    private static CompletableFuture<Datakits.Run> inBackground(Supplier<Datakits.Run> run) {
        return CompletableFuture.supplyAsync(run, task -> new Thread(task, "datakit-run").start());
    }

    /** Runs a datakit while another session holds {@code lock} in an open transaction; the lock ends with the run, or after a minute. */
    private static Datakits.Run whileLocked(TestDatabase database, String lock, String datakit, Map<String, String> env, String... args)
            throws Exception {
        try (Connection holder = database.connect(); Statement st = holder.createStatement()) {
            holder.setAutoCommit(false);
            st.execute(lock);
            return inBackground(() -> Datakits.run(datakit, env, args)).get(1, TimeUnit.MINUTES);
        }
    }

    @Test
    void aStartupParameterThePoolerRefusesFailsAtOnceNamingTheFix() {
        var db = Pooled.create("pooled_startup", transaction);
        String url = "jdbc:postgresql://%s:%d/%s?user=%s&password=%s&currentSchema=public".formatted(transaction.host(), transaction.port(),
            db.source().name(), transaction.adminUser(), transaction.adminPassword());
        long started = System.nanoTime();
        var run = Datakits.run("PostgresExtract", db.env("SOURCE_DATABASE_URL", url), "--table", "public.orders");
        Datakits.assertFailsWithOneLine(run, 2, "unsupported startup parameter: search_path. A connection pooler such as PgBouncer is in "
            + "the way, and the property currentSchema of the JDBC URL (--source or SOURCE_DATABASE_URL) asks for search_path at "
            + "connection start: take it out, or add search_path to PgBouncer's ignore_startup_parameters.");
        assertThat(run.err()).doesNotContain("tried");
        assertThat((System.nanoTime() - started) / 1_000_000).as("ms: no retries with backoff").isLessThan(5_000);
    }

    @Test
    void anotherClientsPreparedStatementsNeitherBreakARunNorAreBlamedOnItsSql() throws Exception {
        var db = Pooled.create("pooled_prepared", transaction);
        // Another client leaves the statement name PgJDBC gives first (S_1) prepared on every server connection of the pool.
        preparedOnEveryServerConnection(db.source(), "PREPARE S_1 AS SELECT 1");
        succeeds(Datakits.run("PostgresExtract", db.env(), "--table", "public.orders", "--where", "id > 0"));
        assertThat(db.direct().warehouse().count("bronze.orders")).isEqualTo(3000);

        String prepared = "jdbc:postgresql://%s:%d/%s?user=%s&password=%s&prepareThreshold=1".formatted(transaction.host(),
            transaction.port(), db.source().name(), transaction.adminUser(), transaction.adminPassword());
        var run = Datakits.run("PostgresExtract", db.env("SOURCE_DATABASE_URL", prepared), "--table", "public.orders", "--where", "id > 0");
        Datakits.assertFailsWithOneLine(run, 2, "prepared statement \"S_1\" already exists. A connection pooler in transaction mode "
            + "gave this transaction a server connection whose prepared statements belong to another: leave prepareThreshold at the "
            + "datakits' default, 0, in the JDBC URL.");
        preparedOnEveryServerConnection(db.source(), "DEALLOCATE ALL");
    }

    private static void preparedOnEveryServerConnection(TestDatabase database, String sql) throws SQLException {
        var clients = new ArrayList<Connection>();
        try {
            for (int i = 0; i < POOL_SIZE; i++) {
                Connection c = database.connect();
                clients.add(c);
                c.setAutoCommit(false);
                try (Statement st = c.createStatement()) {
                    st.execute(sql);
                }
            }
            for (Connection c : clients) {
                c.commit();
            }
        } finally {
            clients.forEach(PoolerIT::closeQuietly);
        }
    }

    /** Polls {@code query} until it returns {@code expected} (30 s at most), failing early if {@code process} ends. */
    private static void await(TestDatabase database, String query, String expected, Process process) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!database.value(query).equals(expected)) {
            assertThat(process == null || process.isAlive()).as("the run is still going").isTrue();
            assertThat(System.nanoTime()).as("waited 30 s for " + query + " to return " + expected + "; sessions: "
                + database.rows("SELECT datname, state, wait_event, left(query, 200) FROM pg_stat_activity WHERE backend_type = 'client backend'"))
                .isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    /**
     * Every server connection of the pools of the source and the warehouse (a client per connection, each in a
     * transaction, so the pooler hands each a different one) has the server's defaults and no prepared
     * statement or advisory lock of the datakits' left.
     */
    private static void assertNothingLeftOnTheServerConnections(Pooled db) {
        for (TestDatabase database : List.of(db.source(), db.warehouse())) {
            for (Map<String, String> seen : everyServerConnection(database)) {
                assertThat(seen).as("a server connection of %s after the runs", database.name()).containsAllEntriesOf(SERVER_DEFAULTS);
            }
        }
    }

    private static List<Map<String, String>> everyServerConnection(TestDatabase database) {
        var clients = new ArrayList<Connection>();
        try {
            var seen = new ArrayList<Map<String, String>>();
            for (int i = 0; i < POOL_SIZE; i++) {
                Connection c = database.connect();
                clients.add(c);
                c.setAutoCommit(false);
                var settings = new HashMap<String, String>();
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("""
                        SELECT name, setting FROM pg_settings WHERE name IN ('default_transaction_read_only', 'statement_timeout',
                          'row_security', 'jit', 'search_path', 'idle_in_transaction_session_timeout')
                        UNION ALL SELECT 'work_mem', current_setting('work_mem')
                        UNION ALL SELECT 'role', current_setting('role')
                        UNION ALL SELECT 'set for the session', coalesce(string_agg(name, ', ' ORDER BY name), '') FROM pg_settings
                          WHERE source = 'session' AND name NOT IN
                            ('application_name', 'client_encoding', 'DateStyle', 'TimeZone', 'standard_conforming_strings',
                             -- SET TRANSACTION READ ONLY leaves this marked 'session' after the transaction, with its value
                             -- back to off: every transaction starts from default_transaction_read_only, checked above.
                             'transaction_read_only')
                        UNION ALL SELECT 'prepared statements', count(*)::text FROM pg_prepared_statements
                        UNION ALL SELECT 'advisory locks', count(*)::text FROM pg_locks WHERE locktype = 'advisory'
                          AND pid = pg_backend_pid()""")) {
                    while (rs.next()) {
                        settings.put(rs.getString(1), rs.getString(2));
                    }
                }
                seen.add(settings);
            }
            return seen;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        } finally {
            clients.forEach(PoolerIT::closeQuietly);
        }
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException e) {
            // closing a test client
        }
    }

    private static void succeeds(Datakits.Run run) {
        assertThat(run.exitCode()).as(run.toString()).isZero();
    }
}
