package datakit.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.SourceAndWarehouse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bronze-dbt-sources writes valid YAML that names every bronze table, with columns, comments and freshness. */
class DbtSourcesIT {
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    TestDatabase source;
    TestDatabase warehouse;
    Map<String, String> env;
    @TempDir
    Path dir;

    @BeforeEach
    void createDatabases() {
        var databases = SourceAndWarehouse.create("dbt",
            "CREATE TABLE public.orders (id int PRIMARY KEY, note text)", "INSERT INTO orders VALUES (1, 'a')",
            "COMMENT ON TABLE orders IS 'Orders: one row per order'", "COMMENT ON COLUMN orders.note IS 'Free text: \"quoted\" #hash'",
            "CREATE TABLE public.customers (id int PRIMARY KEY, name text)", "INSERT INTO customers VALUES (1, 'x')");
        source = databases.source();
        warehouse = databases.warehouse();
        env = databases.env();
    }

    @Test
    void namesEveryBronzeTableWithColumnsCommentsAndFreshness() throws Exception {
        assertThat(Datakits.run("PostgresExtract", env, "--table", "orders").exitCode()).isZero();
        assertThat(Datakits.run("PostgresExtract", env, "--table", "customers", "--target-table", "clients").exitCode()).isZero();
        Path file = dir.resolve("sources.yml");

        var run = Datakits.run("BronzeDbtSources", env, "--output", file.toString());
        assertThat(run.exitCode()).as(run.toString()).isZero();

        JsonNode yaml = YAML.readTree(file.toFile());
        assertThat(yaml.path("version").asInt()).isEqualTo(2);
        JsonNode bronze = yaml.path("sources").get(0);
        assertThat(bronze.path("name").asText()).isEqualTo("bronze");
        assertThat(bronze.path("loaded_at_field").asText()).isEqualTo("_bronze_loaded_at");
        assertThat(bronze.path("freshness").path("warn_after").path("count").asInt()).isEqualTo(24);
        List<String> names = new ArrayList<>();
        bronze.path("tables").forEach(t -> names.add(t.path("name").asText()));
        List<String> inWarehouse = warehouse.rows("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            + "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = '_bronze_run_id' WHERE n.nspname = 'bronze' ORDER BY 1")
            .stream().map(r -> r.get(0)).toList();
        assertThat(names).isEqualTo(inWarehouse).containsExactly("clients", "orders");
        JsonNode orders = bronze.path("tables").get(1);
        assertThat(orders.path("description").asText()).isEqualTo("Orders: one row per order");
        assertThat(orders.path("columns").get(1).path("description").asText()).isEqualTo("Free text: \"quoted\" #hash");
        assertThat(orders.path("columns").get(0).path("data_type").asText()).isEqualTo("integer");
        assertThat(bronze.path("tables").get(0).path("description").asText()).isEqualTo("Loaded from public.customers.");
    }
}
