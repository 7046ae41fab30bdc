package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import datakit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The datakits run as a source role that may only read: LOGIN, CONNECT on the database, USAGE on the
 * schema and SELECT on the tables (no superuser, no CREATE, no ownership), plus REPLICATION for CDC
 * with a publication an admin made. Each mode loads bronze equal to the source; no run changes a row
 * of the source, and the roles could not have written if they tried. A CDC role without REPLICATION
 * is refused with one line: CdcIT.badSetupsFailWithOneClearLine covers it.
 */
class LeastPrivilegeIT {
    static final String PASSWORD = "least-privilege";
    static final String CUSTOMERS = "SELECT id::text, name, changed_at::text FROM %s ORDER BY id";
    static final String ORDERS = "SELECT id::text, region, amount::text FROM %s ORDER BY id";
    static final String ACCOUNTS = "SELECT id::text, balance::text FROM %s ORDER BY id";
    /** Roles are cluster-wide: named after the source database, so runs never clash, and dropped at the end. */
    static final List<String> ROLES = new ArrayList<>();

    static TestDatabase source;
    static TestDatabase warehouse;
    /** SELECT on shop.customers, and on shop.orders and each of its partitions (what postgres-partitioned needs). */
    static String reader;
    /** REPLICATION, and SELECT on shop.accounts only. */
    static String cdcReader;
    static String publication;
    static String slot;

    @BeforeAll
    static void createASourceThatGrantsNothingByDefault() {
        var databases = SourceAndWarehouse.create("leastpriv", """
            CREATE SCHEMA shop;
            CREATE TABLE shop.customers (id int PRIMARY KEY, name text NOT NULL, changed_at timestamptz NOT NULL);
            INSERT INTO shop.customers SELECT g, 'customer ' || g, timestamptz '2026-01-01' + g * interval '1 hour'
                FROM generate_series(1, 20) g;
            CREATE TABLE shop.orders (id int, region text, amount numeric(10, 2), PRIMARY KEY (id, region)) PARTITION BY LIST (region);
            CREATE TABLE shop.orders_eu PARTITION OF shop.orders FOR VALUES IN ('eu');
            CREATE TABLE shop.orders_us PARTITION OF shop.orders FOR VALUES IN ('us');
            INSERT INTO shop.orders SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g * 1.25 FROM generate_series(1, 20) g;
            CREATE TABLE shop.accounts (id int PRIMARY KEY, balance int NOT NULL);
            INSERT INTO shop.accounts SELECT g, g * 100 FROM generate_series(1, 5) g;
            """);
        source = databases.source();
        warehouse = databases.warehouse();
        publication = "pub_" + source.name();
        slot = "slot_" + source.name();
        source.execute(
            // PUBLIC has CONNECT and TEMPORARY on a new database and USAGE on schema public: take them away,
            // so the roles hold exactly what is granted below.
            "REVOKE ALL ON DATABASE \"" + source.name() + "\" FROM PUBLIC",
            "REVOKE ALL ON SCHEMA public FROM PUBLIC",
            // CREATE PUBLICATION needs ownership of the tables, so an admin makes it and the datakit is given
            // its name (docs/postgres-cdc.md, "What the source needs").
            "CREATE PUBLICATION " + publication + " FOR TABLE shop.accounts");
        reader = createRole("reader", "", "GRANT SELECT ON shop.customers, shop.orders, shop.orders_eu, shop.orders_us TO %s");
        cdcReader = createRole("cdc", "REPLICATION", "GRANT SELECT ON shop.accounts TO %s");
    }

    /** A LOGIN role with {@code attributes}, CONNECT on the source, USAGE on shop, and {@code grants} ({@code %s}: the role). */
    static String createRole(String purpose, String attributes, String... grants) {
        String role = purpose + "_" + source.name();
        ROLES.add(role);
        source.execute("CREATE ROLE %s LOGIN %s PASSWORD '%s'".formatted(role, attributes, PASSWORD),
            "GRANT CONNECT ON DATABASE \"%s\" TO %s".formatted(source.name(), role),
            "GRANT USAGE ON SCHEMA shop TO " + role);
        for (String grant : grants) {
            source.execute(grant.formatted(role));
        }
        return role;
    }

    /** A slot keeps WAL, and its database cannot be dropped, while it exists; it is dropped once its run let go of it. */
    @AfterEach
    void dropTheSlot() throws InterruptedException {
        for (int i = 0; i < 100 && source.value("SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = '" + slot + "'")
                .equals("1"); i++) {
            Thread.sleep(50);
        }
        source.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    }

    @AfterAll
    static void dropTheRoles() {
        if (source == null) {
            return;
        }
        source.execute("DROP PUBLICATION IF EXISTS " + publication);
        for (String role : ROLES) {
            // DROP OWNED also revokes the role's privileges, including CONNECT on the database.
            source.execute("DROP OWNED BY " + role, "DROP ROLE " + role);
        }
    }

    /**
     * Runs a datakit with {@code role} as the source user and checks that the source tables are exactly as
     * before: same rows, and same row versions (xmin), so even an update that wrote the same values shows.
     */
    static Datakits.Run runAs(String role, String datakit, String... args) {
        String before = sourceRowVersions();
        String url = source.url().replaceFirst("//[^@]*@", "//" + role + ":" + PASSWORD + "@");
        var run = Datakits.run(datakit, Map.of("SOURCE_DATABASE_URL", url, "WAREHOUSE_DATABASE_URL", warehouse.url(),
            "SOURCE_PG_MAX_RETRIES", "0"), args);
        assertThat(sourceRowVersions()).as("the source tables after %s as %s", datakit, role).isEqualTo(before);
        return run;
    }

    static Datakits.Run succeedsAs(String role, String datakit, String... args) {
        var run = runAs(role, datakit, args);
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    static String sourceRowVersions() {
        return source.value("""
            SELECT md5(string_agg(v, ',' ORDER BY v)) FROM (
                SELECT 'customers' || t.xmin || t::text AS v FROM shop.customers t
                UNION ALL SELECT 'orders' || t.xmin || t::text FROM shop.orders t
                UNION ALL SELECT 'accounts' || t.xmin || t::text FROM shop.accounts t) rows""");
    }

    @Test
    void aFullCopyNeedsOnlySelect() {
        succeedsAs(reader, "PostgresExtract", "--table", "shop.customers", "--target-table", "customers_full");

        // The incremental test may have changed shop.customers before: bronze must equal the source as it is now.
        assertThat(warehouse.rows(CUSTOMERS.formatted("bronze.customers_full"))).isEqualTo(source.rows(CUSTOMERS.formatted("shop.customers")))
            .hasSizeGreaterThanOrEqualTo(20);
    }

    @Test
    void anIncrementalLoadNeedsOnlySelect() {
        String[] args = {"--table", "shop.customers", "--cursor-field", "changed_at", "--target-table", "customers_incremental"};
        succeedsAs(reader, "PostgresIncremental", args);
        source.execute("UPDATE shop.customers SET name = 'renamed', changed_at = changed_at + interval '1 year' WHERE id = 3",
            "INSERT INTO shop.customers VALUES (21, 'customer 21', timestamptz '2027-06-01')");
        succeedsAs(reader, "PostgresIncremental", args);

        assertThat(warehouse.rows(CUSTOMERS.formatted("bronze.customers_incremental")))
            .isEqualTo(source.rows(CUSTOMERS.formatted("shop.customers")))
            .contains(List.of("3", "renamed", source.value("SELECT changed_at::text FROM shop.customers WHERE id = 3")));
    }

    /**
     * postgres-partitioned reads each partition directly (COPY of the leaf, so a part can be resumed on its
     * own) after checking the parent: it needs SELECT on the parent and on every partition. SELECT on the
     * parent alone lets a query of the parent see all rows, but not a read of a partition.
     */
    @Test
    void aPartitionedLoadNeedsSelectOnTheParentAndOnEachPartition() {
        succeedsAs(reader, "PostgresPartitioned", "--table", "shop.orders");
        assertThat(warehouse.rows(ORDERS.formatted("bronze.orders"))).isEqualTo(source.rows(ORDERS.formatted("shop.orders"))).hasSize(20);

        String parentOnly = createRole("parentonly", "", "GRANT SELECT ON shop.orders TO %s");
        var withoutPartitions = runAs(parentOnly, "PostgresPartitioned", "--table", "shop.orders", "--target-table", "orders_parent_only");
        assertThat(withoutPartitions.exitCode()).as(withoutPartitions.toString()).isEqualTo(2);
        assertThat(withoutPartitions.err()).contains("may read shop.orders but not its partition shop.orders_eu",
            "GRANT SELECT ON \"shop\".\"orders_eu\"");

        String partitionsOnly = createRole("partsonly", "", "GRANT SELECT ON shop.orders_eu, shop.orders_us TO %s");
        var withoutParent = runAs(partitionsOnly, "PostgresPartitioned", "--table", "shop.orders", "--target-table", "orders_parts_only");
        assertThat(withoutParent.exitCode()).as(withoutParent.toString()).isEqualTo(2);
        assertThat(withoutParent.err()).contains("may not read shop.orders (no SELECT privilege)", "GRANT SELECT ON \"shop\".\"orders\"");
    }

    @Test
    void cdcNeedsReplicationAndSelectWhenAnAdminMadeThePublication() {
        String[] args = {"--table", "shop.accounts", "--slot", slot, "--publication", publication, "--apply"};
        succeedsAs(cdcReader, "PostgresCdc", args);
        assertThat(warehouse.rows(ACCOUNTS.formatted("bronze.accounts"))).isEqualTo(source.rows(ACCOUNTS.formatted("shop.accounts")))
            .hasSize(5);

        source.execute("INSERT INTO shop.accounts VALUES (6, 600)", "UPDATE shop.accounts SET balance = balance + 1 WHERE id = 2",
            "DELETE FROM shop.accounts WHERE id = 3");
        succeedsAs(cdcReader, "PostgresCdc", args);

        assertThat(warehouse.rows(ACCOUNTS.formatted("bronze.accounts"))).isEqualTo(source.rows(ACCOUNTS.formatted("shop.accounts")));
        assertThat(warehouse.rows("SELECT _cdc_op, id::text FROM bronze.accounts__changes ORDER BY _cdc_lsn, _cdc_seq"))
            .containsExactly(List.of("insert", "6"), List.of("update", "2"), List.of("delete", "3"));
        assertThat(source.rows("SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = '" + publication + "'"))
            .as("the admin's publication, unchanged").containsExactly(List.of("shop.accounts"));
    }

    /** Each missing right is named in one line with the role and the GRANT that gives it, on the source and on the warehouse. */
    @Test
    void aMissingRightIsAnsweredWithTheGrantToRunForTheRole() {
        String noUsage = createRole("nousage", "", "GRANT SELECT ON shop.customers TO %s");
        source.execute("REVOKE USAGE ON SCHEMA shop FROM " + noUsage);
        Datakits.assertFailsWithOneLine(runAs(noUsage, "PostgresExtract", "--table", "shop.customers", "--target-table", "x"), 2,
            "The source user " + noUsage + " may not read shop.customers: permission denied for schema shop. Grant it on the source: "
                + "GRANT USAGE ON SCHEMA shop TO " + noUsage + ";");

        String noSelect = createRole("noselect", "");
        Datakits.assertFailsWithOneLine(runAs(noSelect, "PostgresExtract", "--table", "shop.customers", "--target-table", "x"), 2,
            "The source user " + noSelect + " may not read shop.customers (no SELECT privilege). Grant it on the source: "
                + "GRANT SELECT ON \"shop\".\"customers\" TO " + noSelect + ";");

        String noConnect = createRole("noconnect", "");
        source.execute("REVOKE CONNECT ON DATABASE \"" + source.name() + "\" FROM " + noConnect);
        Datakits.assertFailsWithOneLine(runAs(noConnect, "PostgresExtract", "--table", "shop.customers", "--target-table", "x"), 2,
            "permission denied for database \"" + source.name() + "\" (User does not have CONNECT privilege.). As the database's owner or a "
                + "superuser, run GRANT CONNECT ON DATABASE " + source.name() + " TO " + noConnect + ";");
    }

    @Test
    void aWarehouseUserThatMayNotCreateTheBronzeSchemaOrTablesInItIsToldTheGrant() {
        String loader = "loader_" + warehouse.name();
        ROLES.add(loader);
        warehouse.execute("CREATE ROLE " + loader + " LOGIN PASSWORD '" + PASSWORD + "'", "CREATE SCHEMA locked");
        String url = warehouse.url().replaceFirst("//[^@]*@", "//" + loader + ":" + PASSWORD + "@");
        var env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", url);

        Datakits.assertFailsWithOneLine(Datakits.run("PostgresExtract", env, "--table", "shop.customers", "--target-schema", "raw"), 2,
            "The warehouse user " + loader + " may not create the bronze schema raw in database " + warehouse.name() + ". As the "
                + "database's owner or a superuser, run GRANT CREATE ON DATABASE " + warehouse.name() + " TO " + loader + "; or create the "
                + "schema for it: CREATE SCHEMA raw AUTHORIZATION " + loader + ";");
        Datakits.assertFailsWithOneLine(Datakits.run("PostgresExtract", env, "--table", "shop.customers", "--target-schema", "locked"), 2,
            "The warehouse user " + loader + " may not create tables in the bronze schema locked, which bronze and its bookkeeping need. "
                + "As the schema's owner or a superuser, run GRANT USAGE, CREATE ON SCHEMA locked TO " + loader + ";");

        warehouse.execute("GRANT USAGE, CREATE ON SCHEMA locked TO " + loader);
        assertThat(Datakits.run("PostgresExtract", env, "--table", "shop.customers", "--target-schema", "locked").exitCode()).isZero();
        assertThat(warehouse.count("locked.customers")).isEqualTo(source.count("shop.customers"));
        warehouse.execute("DROP SCHEMA locked CASCADE", "DROP OWNED BY " + loader);
    }

    /** What the runs above succeeded with holds no way to write: the catalog says so, and the server refuses each try. */
    @Test
    void theSourceRolesMayWriteNothing() throws SQLException {
        String before = sourceRowVersions();
        for (String role : List.of(reader, cdcReader)) {
            assertThat(source.rows("""
                SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolbypassrls,
                       has_database_privilege(r.oid, current_database(), 'CREATE, TEMPORARY'),
                       has_schema_privilege(r.oid, 'shop', 'CREATE'), has_schema_privilege(r.oid, 'public', 'CREATE, USAGE'),
                       EXISTS (SELECT 1 FROM pg_class c WHERE c.relkind IN ('r', 'p')
                               AND has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')),
                       EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid) OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspowner = r.oid)
                FROM pg_roles r WHERE r.rolname = '%s'""".formatted(role)))
                .as("superuser, createdb, createrole, bypassrls, create or temp on the database, create on shop, public, "
                    + "any write on a table, owns something: %s", role)
                .containsExactly(List.of("f", "f", "f", "f", "f", "f", "f", "f", "f"));
            assertEveryWriteIsRefused(role);
        }
        assertThat(sourceRowVersions()).isEqualTo(before);
    }

    private static void assertEveryWriteIsRefused(String role) throws SQLException {
        var writes = List.of("INSERT INTO shop.customers VALUES (99, 'x', now())", "UPDATE shop.accounts SET balance = 0",
            "DELETE FROM shop.orders_eu", "TRUNCATE shop.customers", "CREATE TABLE shop.mine (a int)", "CREATE TEMP TABLE mine (a int)",
            "CREATE SCHEMA mine", "CREATE PUBLICATION mine FOR TABLE shop.accounts");
        try (Connection c = DriverManager.getConnection(source.server().jdbcUrl(source.name()), role, PASSWORD);
             Statement st = c.createStatement()) {
            for (String write : writes) {
                var refused = assertThrows(SQLException.class, () -> st.execute(write), role + ": " + write);
                assertThat(refused.getSQLState()).as(role + ": " + write + " -> " + refused.getMessage()).isEqualTo("42501");
            }
        }
    }
}
