package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** postgres-cdc against a real server with wal_level=logical: snapshot, changes, exactly once. */
class CdcIT {
    TestDatabase source;
    TestDatabase warehouse;
    String slot;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("cdc_src");
        warehouse = TestPostgres.createDatabase("cdc_wh");
        slot = "s_" + source.name();
        source.execute("CREATE TABLE public.items (id int PRIMARY KEY, name text, qty int, note text)",
            "INSERT INTO items SELECT g, 'item ' || g, g * 10, NULL FROM generate_series(1, 5) g");
    }

    /** A slot keeps WAL, and its database cannot be dropped, for as long as it exists. */
    @AfterEach
    void dropSlot() {
        source.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    }

    Datakits.Run cdc(String... args) {
        var all = new java.util.ArrayList<>(List.of("--slot", slot));
        all.addAll(List.of(args));
        return Datakits.run("PostgresCdc", Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()),
            all.toArray(String[]::new));
    }

    @Test
    void snapshotThenChangesLandOnceEach() {
        var first = cdc("--table", "items");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(warehouse.rows("SELECT id::text, name, qty::text FROM bronze.items ORDER BY id"))
            .isEqualTo(source.rows("SELECT id::text, name, qty::text FROM items ORDER BY id"));

        source.execute("INSERT INTO items VALUES (6, 'six', 60, 'new')",
            "UPDATE items SET qty = qty + 1 WHERE id = 2",
            "DELETE FROM items WHERE id = 3");
        var second = cdc("--table", "items");
        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(warehouse.rows("SELECT _cdc_op, _cdc_seq::text, id::text, name, qty::text, _cdc_old::text FROM bronze.items__changes "
            + "ORDER BY _cdc_lsn, _cdc_seq")).containsExactly(
                Arrays.asList("insert", "1", "6", "six", "60", null),
                Arrays.asList("update", "1", "2", "item 2", "21", null),
                Arrays.asList("delete", "1", "3", null, null, "{\"id\": \"3\"}"));

        var third = cdc("--table", "items");
        assertThat(third.exitCode()).as(third.toString()).isZero();
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items__changes")).isEqualTo("3");
    }
}
