package datakit.jsonb;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** postgres-jsonb --profile: every key path counted over all rows, stored in bronze, and the drift a later run reports. */
class JsonProfileIT {
    TestDatabase source;
    TestDatabase warehouse;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("profile_src");
        warehouse = TestPostgres.createDatabase("profile_wh");
        source.execute("""
            CREATE TABLE public.events (id int PRIMARY KEY, payload jsonb, raw json);
            INSERT INTO public.events VALUES
              (1, '{"user": {"id": 1, "tier": "gold"}, "amount": 5, "gone": true}', '{"a": 1}'),
              (2, '{"user": {"id": 2, "tier": null}, "amount": "5.00"}', '{"a": 2, "a": "x"}'),
              (3, '{"user": null, "amount": 7}', NULL),
              (4, NULL, '[]');
            """);
    }

    Datakits.Run jsonb(String... args) {
        return Datakits.run("PostgresJsonb", Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()), args);
    }

    List<List<String>> stored(String column) {
        return warehouse.rows("SELECT array_to_string(key_path, '.'), types::text, present::text, nulls::text, documents::text "
            + "FROM bronze.extraction_json_keys WHERE stream = 'bronze.events' AND column_name = '" + column + "' AND key_path <> '{}' "
            + "ORDER BY key_path");
    }

    @Test
    void theFirstProfileCountsEveryKeyPathOverAllRowsAndIsStored() {
        var run = jsonb("--table", "events", "--profile");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(stored("payload")).containsExactly(
            List.of("amount", "{\"number\": 2, \"string\": 1}", "3", "0", "3"),
            List.of("gone", "{\"boolean\": 1}", "1", "0", "3"),
            List.of("user", "{\"null\": 1, \"object\": 2}", "3", "1", "3"),
            List.of("user.id", "{\"number\": 2}", "2", "0", "3"),
            List.of("user.tier", "{\"null\": 1, \"string\": 1}", "2", "1", "3"));
        assertThat(stored("raw")).as("json is profiled as jsonb reads it: the last of duplicate keys")
            .containsExactly(List.of("a", "{\"number\": 1, \"string\": 1}", "2", "0", "3"));
        assertThat(run.out()).contains("drift payload: first_profile: true", "keys of payload (3 documents)", "user.tier");
    }

    @Test
    void declaredJsonColumnsAreNotProfiledAndARunWithoutKeysStillCountsAsTheLastProfile() {
        source.execute("ALTER TABLE events ADD COLUMN note text", "UPDATE events SET note = 'not json'");
        assertThat(jsonb("--table", "events", "--profile", "--json-columns", "note").exitCode()).isZero();
        source.execute("UPDATE events SET raw = NULL");

        var empty = jsonb("--table", "events", "--profile", "--json-columns", "note", "--json");
        var again = jsonb("--table", "events", "--profile", "--json-columns", "note", "--json");

        assertThat(empty.exitCode()).as(empty.toString()).isZero();
        assertThat(empty.out()).contains("\"drift raw\":{\"new_keys\":[],\"vanished_keys\":[\"a\"],\"type_changes\":[]}")
            .doesNotContain("drift note");
        assertThat(again.out()).as("the key vanished once, not at every run")
            .contains("\"drift raw\":{\"new_keys\":[],\"vanished_keys\":[],\"type_changes\":[]}");
    }

    @Test
    void aKeyLongerThanAnIndexEntryIsProfiled() {
        source.execute("UPDATE events SET payload = jsonb_build_object(repeat('k', 5000), 1) WHERE id = 1");

        var run = jsonb("--table", "events", "--profile");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.value("SELECT max(length(key_path[1])) FROM bronze.extraction_json_keys")).isEqualTo("5000");
    }

    @Test
    void aLaterRunReportsNewVanishedAndRetypedKeys() {
        assertThat(jsonb("--table", "events", "--profile").exitCode()).isZero();
        String firstRun = warehouse.value("SELECT run_id FROM bronze.extraction_runs");
        source.execute("UPDATE events SET payload = payload - 'gone' || '{\"coupon\": \"X1\"}' WHERE id = 1",
            "UPDATE events SET payload = jsonb_set(payload, '{user,id}', '\"u2\"') WHERE id = 2");

        var run = jsonb("--table", "events", "--profile", "--json");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("\"drift payload\":{\"new_keys\":[\"coupon\"],\"vanished_keys\":[\"gone\"],"
            + "\"type_changes\":[\"user.id: number -> number or string\"]}");
        assertThat(run.out()).contains("\"drift raw\":{\"new_keys\":[],\"vanished_keys\":[],\"type_changes\":[]}");
        assertThat(warehouse.value("SELECT last_seen_run::text FROM bronze.extraction_json_keys WHERE key_path = '{gone}'"))
            .as("a vanished key keeps the run that saw it last").isEqualTo(firstRun);
        assertThat(warehouse.value("SELECT first_seen_run::text FROM bronze.extraction_json_keys WHERE key_path = '{user,id}'"))
            .isEqualTo(firstRun);

        var third = jsonb("--table", "events", "--profile", "--json");
        assertThat(third.out()).as("nothing changed since the last profile")
            .contains("\"drift payload\":{\"new_keys\":[],\"vanished_keys\":[],\"type_changes\":[]}");
    }
}
