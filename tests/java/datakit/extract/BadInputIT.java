package datakit.extract;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every bad input gets one ERROR line saying what failed and what to do, the documented exit code,
 * and leaves the source and the warehouse as they were.
 */
class BadInputIT {
    static TestDatabase source;
    static TestDatabase warehouse;

    @BeforeAll
    static void createDatabases() {
        source = TestPostgres.createDatabase("bad_src");
        warehouse = TestPostgres.createDatabase("bad_wh");
        source.execute("""
            CREATE SCHEMA sales;
            CREATE TABLE sales.orders (id bigint PRIMARY KEY, status text);
            CREATE TABLE sales."Order Items" (id int);
            CREATE TABLE sales."OrderLines" (id int);
            INSERT INTO sales.orders SELECT g, 'new' FROM generate_series(1, 10) g;
            """);
    }

    static Datakits.Run extract(Map<String, String> extraEnv, String... args) {
        var env = new HashMap<>(Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url(),
            "SOURCE_PG_MAX_RETRIES", "0", "WAREHOUSE_PG_MAX_RETRIES", "0"));
        env.putAll(extraEnv);
        return Datakits.run("PostgresExtract", env, args);
    }

    static void assertFails(Datakits.Run run, int exitCode, String... messageParts) {
        Datakits.assertFailsWithOneLine(run, exitCode, messageParts);
    }

    @Test
    void aMissingTableListsTheTablesOfItsSchema() {
        assertFails(extract(Map.of(), "--table", "sales.order"), 2,
            "Table sales.order does not exist on the source", "Tables in schema sales: \"Order Items\", \"OrderLines\", orders.",
            "Check --table; if the table was renamed, give its new name there and this one in --renamed-from.");
    }

    @Test
    void aTableInTheWrongCaseSuggestsTheQuotedName() {
        assertFails(extract(Map.of(), "--table", "sales.OrderLines"), 2,
            "Table sales.orderlines does not exist", "Did you mean sales.\"OrderLines\"?");
    }

    @Test
    void aNameThatNeedsQuotesSaysHowToQuoteIt() {
        assertFails(extract(Map.of(), "--table", "sales.Order Items"), 2,
            "Order Items is not a name PostgreSQL takes without quotes", "'\"Order Items\"'");
        assertFails(extract(Map.of(), "--table", "sales.orders", "--target-table", "raw.orders"), 2,
            "--target-table \"raw.orders\" must be a single name");
        assertFails(extract(Map.of(), "--table", "sales.orders", "--target-schema", "\"Raw\""), 2,
            "--target-schema \"\"Raw\"\" must be a plain name");
    }

    @Test
    void aMissingSchemaIsNamed() {
        assertFails(extract(Map.of(), "--table", "nowhere.orders"), 2, "Schema nowhere does not exist either.");
    }

    @Test
    void aMissingColumnListsTheColumnsThatExist() {
        assertFails(extract(Map.of(), "--table", "sales.orders", "--columns", "id,amount"), 2,
            "Column amount does not exist in sales.orders. Columns are: id, status. Check --columns.");
    }

    @Test
    void identifiersWithQuotesAndSemicolonsStayIdentifiers() {
        assertFails(extract(Map.of(), "--table", "sales.\"orders; DROP TABLE sales.orders; --\""), 2,
            "Table sales.\"orders; DROP TABLE sales.orders; --\" does not exist");
        assertFails(extract(Map.of(), "--table", "sales.orders\"; DROP TABLE sales.orders"), 2, "has an unclosed double quote");
        assertThat(source.count("sales.orders")).isEqualTo(10);

        var weird = extract(Map.of(), "--table", "sales.orders", "--target-table", "\"we;ird \"\"name\"");
        assertThat(weird.exitCode()).as(weird.toString()).isZero();
        assertThat(warehouse.count("bronze.\"we;ird \"\"name\"")).isEqualTo(10);
    }

    @Test
    void aWrongPasswordSaysWhereThePasswordCameFrom() {
        String url = source.url().replace(":" + source.server().adminPassword() + "@", ":wrong@");
        assertFails(extract(Map.of("SOURCE_DATABASE_URL", url), "--table", "sales.orders"), 2,
            "Cannot connect to the source", "password authentication failed", "password from SOURCE_DATABASE_URL");
    }

    @Test
    void anUnreachableHostFailsAtRunTimeWithoutRetryingForever() {
        assertFails(extract(Map.of("SOURCE_PG_PORT", "1", "SOURCE_PG_HOST", "127.0.0.1"), "--table", "sales.orders"), 1,
            "Cannot connect to the source", "127.0.0.1:1/", "connection refused", "Check that the server is running");
    }

    @Test
    void anUnknownHostIsAConfigurationError() {
        assertFails(extract(Map.of("SOURCE_PG_HOST", "no-such-host.invalid"), "--table", "sales.orders"), 2,
            "the host name \"no-such-host.invalid\" is unknown", "host (from SOURCE_PG_HOST)");
    }

    @Test
    void aMissingDatabaseIsNamed() {
        assertFails(extract(Map.of("SOURCE_PG_DATABASE", "no_such_db"), "--table", "sales.orders"), 2,
            "database \"no_such_db\" does not exist", "database name (from SOURCE_PG_DATABASE)");
    }

    @Test
    void malformedUrlsAndPortsAreRejectedBeforeConnecting() {
        assertFails(extract(Map.of("SOURCE_DATABASE_URL", "mysql://u:topsecret@h/db"), "--table", "sales.orders"), 2,
            "SOURCE_DATABASE_URL is not a valid PostgreSQL URL (mysql://u:****@h/db)");
        assertFails(extract(Map.of(), "--table", "sales.orders", "--target", "postgresql://h:54x2/db"), 2,
            "The warehouse port from --target is \"54x2\": it must be a whole number from 1 to 65535.");
        assertFails(extract(Map.of("SOURCE_PG_SSLMODE", "sometimes"), "--table", "sales.orders"), 2,
            "The source sslmode from SOURCE_PG_SSLMODE is \"sometimes\"");
    }

    @Test
    void conflictingOrMissingOptionsAreUsageErrors() {
        assertFails(extract(Map.of(), "--table", "sales.orders", "--query", "SELECT 1"), 2, "Give --table or --query, not both.");
        assertFails(extract(Map.of()), 2, "Nothing to read. Give --table schema.table or --query");
        assertFails(extract(Map.of(), "--table", "sales.orders", "--mode", "sideways"), 2, "--mode", "sideways", "See postgres-extract --help.");
        assertFails(extract(Map.of(), "--table", "sales.orders", "--mode", "merge"), 2,
            "postgres-extract writes --mode replace or append; merging by key is what postgres-incremental does.");
        assertFails(extract(Map.of(), "--query", "SELECT 1 AS one"), 2, "A --query has no table name to reuse");
        assertFails(extract(Map.of(), "--table", "sales.orders", "--target-table", "extraction_runs"), 2,
            "bronze.extraction_runs is a bookkeeping table");
    }

    @Test
    void everyNameTheBronzeSchemaKeepsForItselfIsRefusedAsATarget() {
        for (String name : new String[] {"extraction_json_keys", "_bronze_rejects", "_bronze_staging_1234abcd"}) {
            assertFails(extract(Map.of(), "--table", "sales.orders", "--target-table", name), 2,
                "bronze." + name + " is a bookkeeping table of the bronze schema. Choose another --target-table.");
        }
        source.execute("CREATE TABLE sales.extraction_runs (id int PRIMARY KEY)");
        try {
            var env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
            Datakits.assertFailsWithOneLine(Datakits.run("PostgresCdc", env, "--table", "sales.extraction_runs", "--slot", "reserved_name"), 2,
                "sales.extraction_runs would land in bronze.extraction_runs, a name every bronze schema keeps for its own tables");
            assertThat(source.value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'reserved_name'")).isEqualTo("0");
        } finally {
            source.execute("DROP TABLE sales.extraction_runs");
        }
    }

    @Test
    void userSqlThatTheSourceRejectsNamesTheOption() {
        assertFails(extract(Map.of(), "--table", "sales.orders", "--where", "amount > 5"), 2,
            "The source rejected --where: column \"amount\" does not exist", "Fix --where.");
        assertFails(extract(Map.of(), "--query", "SELECT 1 +", "--target-table", "x"), 2, "The source rejected --query: syntax error");
        assertFails(extract(Map.of(), "--query", "SELECT 1; DROP TABLE sales.orders", "--target-table", "x"), 2,
            "--query contains more than one statement");
        assertFails(extract(Map.of(), "--table", "sales.orders", "--where", "true) TO PROGRAM 'id' --"), 2,
            "--where has a ) without a matching (");
    }

    @Test
    void theSourceIsNeverWrittenEvenByAQueryThatTries() {
        assertFails(extract(Map.of(), "--query", "DELETE FROM sales.orders RETURNING *", "--target-table", "gone"), 2, "--query");
        assertFails(extract(Map.of(), "--query", "SELECT nextval('sales.orders_id_seq'::regclass)", "--target-table", "seq"), 2,
            "The source rejected --query");
        source.execute("CREATE SEQUENCE IF NOT EXISTS sales.counter");
        assertFails(extract(Map.of(), "--query", "SELECT nextval('sales.counter') AS n", "--target-table", "counter"), 2,
            "read-only transaction");
        assertThat(source.count("sales.orders")).isEqualTo(10);
        assertThat(source.value("SELECT last_value FROM sales.counter")).isEqualTo("1");
        assertThat(source.value("SELECT is_called FROM sales.counter")).isEqualTo("f");
    }

    @Test
    void parseErrorsNeverEchoAPasswordAndHonourJson() {
        var run = extract(Map.of(), "--table", "sales.orders", "--targte", "postgresql://u:TopSecret99@h/db", "--json");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.all()).doesNotContain("TopSecret99").contains("postgresql://u:****@h/db");
        assertThat(run.out()).startsWith("{\"status\":\"failed\"").contains("\"exit_code\":2");
    }

    @Test
    void optionsAreCheckedBeforeAnyConnection() {
        long started = System.nanoTime();
        var run = extract(Map.of("SOURCE_PG_HOST", "10.255.255.1", "SOURCE_PG_CONNECT_TIMEOUT", "30"), "--where", "x > 1");

        assertFails(run, 2, "Nothing to read. Give --table schema.table or --query");
        assertThat((System.nanoTime() - started) / 1_000_000).isLessThan(5000);
    }

    @Test
    void aUserWhoMayReadOnlySomeColumnsIsToldWhatToGrant() {
        String role = "narrow_" + source.name();
        source.execute("CREATE ROLE " + role + " LOGIN PASSWORD 'columns-only'", "GRANT USAGE ON SCHEMA sales TO " + role,
            "GRANT SELECT (id) ON sales.orders TO " + role);
        String url = "postgresql://%s:columns-only@%s:%d/%s".formatted(role, source.server().host(), source.server().port(), source.name());

        assertFails(extract(Map.of("SOURCE_DATABASE_URL", url), "--table", "sales.orders"), 2, "The source user " + role + " may not read "
            + "sales.orders: permission denied for table orders. Grant it on the source: GRANT SELECT ON sales.orders TO " + role + "; or "
            + "grant SELECT on just the columns you need and name them with --columns.");
        var narrow = extract(Map.of("SOURCE_DATABASE_URL", url), "--table", "sales.orders", "--columns", "id", "--target-table", "narrow");
        assertThat(narrow.exitCode()).as(narrow.toString()).isZero();
    }
}
