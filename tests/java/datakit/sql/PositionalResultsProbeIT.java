package datakit.sql;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.sql.Connection;
import java.util.Arrays;
import java.util.List;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.Result;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;

/**
 * Review probe of {@link PositionalResults}: results of unusual types read through {@link Sql#using} hold the same values,
 * Java types and labels as through plain jOOQ, which asks PgJDBC (and its catalog queries) for each column's origin.
 */
class PositionalResultsProbeIT {
    @Test
    void unusualColumnTypesReadTheSameWithoutTheCatalogQueries() throws Exception {
        TestDatabase db = TestPostgres.createDatabase("positional");
        db.execute("CREATE SCHEMA \"Odd\"", "CREATE TYPE \"Odd\".\"Mood\" AS ENUM ('sad', 'ok')",
            "CREATE DOMAIN \"Odd\".price AS numeric(10,2) CHECK (VALUE >= 0)", "CREATE TYPE \"Odd\".pair AS (a int, b text)",
            "CREATE TABLE \"Odd\".\"T\" (id serial PRIMARY KEY, big bigserial, mood \"Odd\".\"Mood\", p \"Odd\".price, c \"Odd\".pair, "
                + "ints int[], texts text[], moods \"Odd\".\"Mood\"[], j jsonb, ts timestamptz, n numeric, u uuid, b bytea, iv interval)",
            "INSERT INTO \"Odd\".\"T\" (mood, p, c, ints, texts, moods, j, ts, n, u, b, iv) VALUES "
                + "('ok', 1.50, ROW(1, 'x'), '{1,NULL,3}', '{\"a b\",NULL}', '{sad,ok}', '{\"k\": [1, null]}', '2026-01-01 00:00:00.123456+00', "
                + "'12345678901234567890.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff', '1 day 2 hours'), "
                + "(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
            "CREATE TABLE public.u (id int, mood \"Odd\".\"Mood\")", "INSERT INTO public.u VALUES (1, 'sad')");
        for (String query : List.of("SELECT * FROM \"Odd\".\"T\" ORDER BY id",
            "SELECT t.id, u.id, t.mood, u.mood FROM \"Odd\".\"T\" t JOIN public.u ON u.id = t.id",
            "SELECT id AS \"x.y\", (c).a, (c).b, ints[1], count(*) OVER () FROM \"Odd\".\"T\" ORDER BY 1")) {
            try (Connection c = db.connect()) {
                Result<Record> positional = Sql.using(c).resultQuery(query).fetch();
                Result<Record> plain = plain(c).resultQuery(query).fetch();
                assertThat(labels(positional)).as(query).isEqualTo(labels(plain));
                assertThat(types(positional)).as(query).isEqualTo(types(plain));
                assertThat(positional.size()).isEqualTo(plain.size());
                for (int row = 0; row < plain.size(); row++) {
                    assertThat(Arrays.deepToString(positional.get(row).intoArray())).as(query)
                        .isEqualTo(Arrays.deepToString(plain.get(row).intoArray()));
                    // Read by the (unqualified) label, as the datakits do.
                    for (Field<?> f : plain.fields()) {
                        assertThat(Arrays.deepToString(new Object[] {positional.get(row).get(f.getName())}))
                            .isEqualTo(Arrays.deepToString(new Object[] {plain.get(row).get(f.getName())}));
                    }
                }
            }
        }
    }

    private static DSLContext plain(Connection c) {
        return DSL.using(c, SQLDialect.POSTGRES);
    }

    private static List<String> labels(Result<Record> result) {
        return Arrays.stream(result.fields()).map(Field::getName).toList();
    }

    private static List<String> types(Result<Record> result) {
        return Arrays.stream(result.fields()).map(f -> f.getType().getName()).toList();
    }
}
