package datakit.jsonb;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** postgres-jsonb --large-objects: the content behind oid columns lands as bytea; missing and oversized ones are set aside. */
class JsonLargeObjectsIT {
    TestDatabase source;
    TestDatabase warehouse;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("lo_src");
        warehouse = TestPostgres.createDatabase("lo_wh");
        source.execute("CREATE TABLE public.docs (id int PRIMARY KEY, body oid, title text)",
            "INSERT INTO docs VALUES (1, lo_from_bytea(0, 'hello'), 'small'), (2, lo_from_bytea(0, ''), 'empty'), "
                + "(3, lo_from_bytea(0, decode(repeat('00ff', 600000), 'hex')), 'big'), (4, 4000000000, 'missing'), (5, NULL, 'none')");
    }

    Datakits.Run jsonb(String... args) {
        return Datakits.run("PostgresJsonb", Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()), args);
    }

    @Test
    void contentUnderTheCapLandsExactlyAndTheRestIsSetAsideWithoutFailing() {
        var run = jsonb("--table", "docs", "--large-objects", "body", "--large-object-cap", "1M");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("rejected   body: 2");
        String sourceContent = "SELECT id::text, md5(lo_get(body)), octet_length(lo_get(body))::text FROM docs WHERE id <= 2 ORDER BY id";
        assertThat(warehouse.rows("SELECT id::text, md5(body__content), octet_length(body__content)::text FROM bronze.docs "
            + "WHERE id <= 2 ORDER BY id")).isEqualTo(source.rows(sourceContent));
        assertThat(warehouse.rows("SELECT id::text FROM bronze.docs WHERE body__content IS NULL ORDER BY id"))
            .containsExactly(List.of("3"), List.of("4"), List.of("5"));
        assertThat(warehouse.value("SELECT body::text FROM bronze.docs WHERE id = 4")).isEqualTo("4000000000");
        assertThat(warehouse.rows("SELECT row_key::text, column_name, error FROM bronze._bronze_rejects ORDER BY row_key")).containsExactly(
            List.of("{\"id\": 3}", "body", "large object " + source.value("SELECT body FROM docs WHERE id = 3")
                + " holds more than the cap of 1048576 bytes (--large-object-cap)"),
            List.of("{\"id\": 4}", "body", "large object 4000000000 does not exist"));
    }

    @Test
    void aCapLargeEnoughLandsEveryObjectThatExists() {
        var run = jsonb("--table", "docs", "--large-objects", "body");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.value("SELECT md5(body__content) FROM bronze.docs WHERE id = 3"))
            .isEqualTo(source.value("SELECT md5(lo_get(body)) FROM docs WHERE id = 3"));
        assertThat(warehouse.value("SELECT string_agg(error, '; ') FROM bronze._bronze_rejects")).isEqualTo("large object 4000000000 does not exist");
    }

    @Test
    void badLargeObjectArgumentsFailWithOneClearLine() {
        var cases = Map.of(
            List.of("--large-objects", "title"), "--large-objects names title, which is text: large objects are referenced by oid columns",
            List.of("--large-objects", "nosuch"), "--large-objects names nosuch, which the read has not",
            List.of("--large-objects", "body", "--large-object-cap", "lots"), "--large-object-cap is \"lots\"",
            List.of("--large-objects", "body", "--large-object-cap", "2G"), "give 1 byte to 1,000,000,000 bytes",
            List.of("--large-object-cap", "1K"), "--large-object-cap caps --large-objects, which is not given");
        cases.forEach((args, message) -> {
            var all = new java.util.ArrayList<>(List.of("--table", "docs"));
            all.addAll(args);
            var run = jsonb(all.toArray(String[]::new));
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
            assertThat(run.err().lines().filter(l -> l.startsWith("ERROR:")).toList()).as(run.toString()).singleElement().asString().contains(message);
        });
    }
}
