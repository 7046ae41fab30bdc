package datakit.demo;

import datakit.cli.DatakitCommand;
import datakit.error.DatakitException;
import datakit.sandbox.PostgresServer;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

/**
 * A small shop database for the demo: customers (an enum and a domain), orders (jsonb and arrays)
 * and events partitioned by month, in a source database beside an empty warehouse on one server.
 */
public final class DemoShop {
    /** The source tables the demo extracts. */
    public static final List<String> TABLES = List.of("shop.customers", "shop.orders", "shop.events");

    private static final String SEED = """
        CREATE SCHEMA shop;
        CREATE TYPE shop.tier AS ENUM ('bronze', 'silver', 'gold');
        CREATE DOMAIN shop.email AS text CHECK (VALUE LIKE '%@%');
        CREATE TABLE shop.customers (
            id integer PRIMARY KEY, name text NOT NULL, email shop.email, tier shop.tier, tags text[], created_at timestamptz);
        CREATE TABLE shop.orders (
            id bigint PRIMARY KEY, customer_id integer REFERENCES shop.customers, total numeric(12,2), status text,
            items jsonb, placed_at timestamptz);
        CREATE TABLE shop.events (
            id bigint, occurred_at timestamptz NOT NULL, kind text, payload jsonb, scores integer[]
        ) PARTITION BY RANGE (occurred_at);
        CREATE TABLE shop.events_2026_01 PARTITION OF shop.events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
        CREATE TABLE shop.events_2026_02 PARTITION OF shop.events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
        CREATE TABLE shop.events_2026_03 PARTITION OF shop.events FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
        INSERT INTO shop.customers
        SELECT g, 'Customer ' || g, 'customer' || g || '@example.com', (ARRAY['bronze', 'silver', 'gold'])[1 + g % 3]::shop.tier,
               ARRAY['newsletter', CASE WHEN g % 2 = 0 THEN 'vip' END], timestamptz '2025-06-01' + g * interval '1 day'
        FROM generate_series(1, 50) g;
        INSERT INTO shop.orders
        SELECT g, 1 + g % 50, round((g * 7.31)::numeric % 500, 2), (ARRAY['new', 'paid', 'shipped'])[1 + g % 3],
               jsonb_build_object('items', jsonb_build_array(jsonb_build_object('sku', 'SKU-' || g % 17, 'qty', 1 + g % 4)),
                                  'note', CASE WHEN g % 10 = 0 THEN 'gift wrap ✓' END),
               timestamptz '2026-01-01' + g * interval '37 minutes'
        FROM generate_series(1, 500) g;
        INSERT INTO shop.events
        SELECT g, timestamptz '2026-01-01' + g * interval '1 hour', (ARRAY['view', 'cart', 'buy'])[1 + g % 3],
               jsonb_build_object('page', '/p/' || g % 40, 'ms', g % 900), ARRAY[g % 5, g % 7]
        FROM generate_series(1, 2000) g;
        ANALYZE;
        """;

    private final PostgresServer server;

    private DemoShop(PostgresServer server) {
        this.server = server;
    }

    /** Creates the demo_source (seeded) and demo_warehouse (empty) databases. */
    public static DemoShop create(PostgresServer server) {
        var shop = new DemoShop(server);
        shop.execute("postgres", "CREATE DATABASE demo_source", "CREATE DATABASE demo_warehouse");
        shop.execute("demo_source", SEED);
        return shop;
    }

    /** Runs a datakit against the demo databases, as a user would with SOURCE_ and WAREHOUSE_DATABASE_URL set. */
    public void run(DatakitCommand datakit, PrintWriter out, PrintWriter err, String... args) {
        var env = Map.of("SOURCE_DATABASE_URL", server.url("demo_source"), "WAREHOUSE_DATABASE_URL", server.url("demo_warehouse"));
        int code = DatakitCommand.execute(datakit, env, out, err, args);
        if (code != 0) {
            throw DatakitException.failed("The demo's run of %s failed with exit code %d (see above).".formatted(String.join(" ", args), code));
        }
    }

    /** Prints what landed in bronze: each table's rows and a sample, then the run history. */
    public void showBronze(PrintWriter out) {
        try (Connection c = connect("demo_warehouse")) {
            out.println();
            out.println("What landed in demo_warehouse (schema bronze):");
            for (String table : TABLES) {
                String bronze = "bronze." + table.substring(table.indexOf('.') + 1);
                TextTable.query(c, "SELECT count(*) AS rows, count(DISTINCT _bronze_run_id) AS runs, min(_bronze_loaded_at) AS loaded_at FROM " + bronze)
                    .print(out, bronze);
            }
            TextTable.query(c, "SELECT id, name, email, tier, tags FROM bronze.customers ORDER BY id LIMIT 3")
                .print(out, "bronze.customers: the enum tier and the domain email landed as text and as the domain's base type");
            TextTable.query(c, "SELECT id, total, status, items FROM bronze.orders ORDER BY id LIMIT 3")
                .print(out, "bronze.orders: jsonb stays jsonb");
            TextTable.query(c, "SELECT id, occurred_at, kind, payload, scores FROM bronze.events ORDER BY id LIMIT 3")
                .print(out, "bronze.events: all partitions of shop.events in one table; arrays stay arrays");
            TextTable.query(c, "SELECT stream, status, rows_loaded, bytes_loaded, ended_at - started_at AS took FROM bronze.extraction_runs ORDER BY started_at")
                .print(out, "bronze.extraction_runs: one row per run");
            out.flush();
        } catch (SQLException e) {
            throw DatakitException.failed("Reading the demo warehouse failed: " + e.getMessage(), e);
        }
    }

    private void execute(String database, String... statements) {
        try (Connection c = connect(database); Statement st = c.createStatement()) {
            for (String sql : statements) {
                st.execute(sql);
            }
        } catch (SQLException e) {
            throw DatakitException.failed("Seeding the demo database %s failed: %s".formatted(database, e.getMessage()), e);
        }
    }

    private Connection connect(String database) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://" + server.host() + ":" + server.port() + "/" + database,
            server.adminUser(), server.adminPassword());
    }
}
