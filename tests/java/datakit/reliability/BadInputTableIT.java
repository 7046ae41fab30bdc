package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.sandbox.LocalCluster;
import datakit.sandbox.PostgresSandbox;
import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bad-input table of docs/reliability.md, run row by row: each command must exit with the code the
 * table gives and print exactly its one ERROR line ({@code …} stands for a part that differs between
 * machines, such as a database name). The table is the test's data, so the page cannot drift from
 * what the datakits say. Afterwards the source is unchanged and the warehouse holds no bronze table.
 */
class BadInputTableIT {
    static final Path PAGE = Path.of("docs", "reliability.md");
    static SourceAndWarehouse db;
    /** A second server with wal_level=replica and no TLS, for the rows that need one. */
    static LocalCluster second;
    static TestDatabase secondSource;
    static Path files;

    @BeforeAll
    static void createFixture() throws IOException {
        db = SourceAndWarehouse.create("badtable", """
            CREATE SCHEMA sales;
            CREATE TABLE sales.orders (id bigint PRIMARY KEY, status text, updated_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE sales."OrderLines" (id int);
            CREATE TABLE sales.nokey (id int, note text);
            CREATE TABLE sales.events (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
            CREATE TABLE sales.events_2026 PARTITION OF sales.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            CREATE SCHEMA ranges;
            CREATE TABLE ranges.mixed (id bigint, at date, n int, region text) PARTITION BY LIST (region);
            CREATE TABLE ranges.mixed_eu PARTITION OF ranges.mixed FOR VALUES IN ('eu') PARTITION BY RANGE (at);
            CREATE TABLE ranges.mixed_us PARTITION OF ranges.mixed FOR VALUES IN ('us') PARTITION BY RANGE (n);
            ALTER TABLE sales.events REPLICA IDENTITY FULL;
            ALTER TABLE sales.events_2026 ADD PRIMARY KEY (id);
            CREATE SEQUENCE sales.counter;
            CREATE TABLE sales.shifting (id int PRIMARY KEY, v timestamptz NOT NULL);
            INSERT INTO sales.shifting VALUES (1, now());
            INSERT INTO sales.orders (id, status) SELECT g, 'new' FROM generate_series(1, 10) g;
            """);
        // A checkpoint with a timestamp cursor, for the row that changes the cursor's type.
        var first = Datakits.run("PostgresIncremental", db.env(), "--table", "sales.orders", "--cursor-field", "updated_at",
            "--target-table", "orders_inc");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        var shifting = Datakits.run("PostgresIncremental", db.env(), "--table", "sales.shifting", "--cursor-field", "v");
        assertThat(shifting.exitCode()).as(shifting.toString()).isZero();
        db.source().execute("ALTER TABLE sales.shifting ALTER v TYPE bigint USING extract(epoch FROM v)::bigint");
        second = PostgresSandbox.startLocal(System.err::println);
        second.restart(List.of("wal_level=replica"));
        secondSource = TestPostgres.createDatabase(second, "second_src");
        secondSource.execute("CREATE SCHEMA sales", "CREATE TABLE sales.orders (id bigint PRIMARY KEY)");
        files = Files.createTempDirectory("bad-input-files");
        Files.writeString(files.resolve("broken.yml"), "source: [unclosed\n");
        Files.writeString(files.resolve("unknown-key.yml"), "tabel: sales.orders\n");
        Files.writeString(files.resolve("follow.yml"), """
            streams:
              changes: {datakit: postgres-cdc, options: {table: sales.orders, follow: true}}
            """);
        Files.writeString(files.resolve("cycle.yml"), """
            streams:
              a: {datakit: postgres-extract, options: {table: sales.orders}, depends_on: [b]}
              b: {datakit: postgres-extract, options: {table: sales.orders}, depends_on: [a]}
            """);
    }

    @AfterAll
    static void nothingWasWritten() {
        try {
            assertThat(db.source().rows("SELECT count(*), min(status), max(status) FROM sales.orders")).containsExactly(List.of("10", "new", "new"));
            assertThat(db.source().value("SELECT is_called FROM sales.counter")).isEqualTo("f");
            assertThat(db.warehouse().rows("SELECT tablename FROM pg_tables WHERE schemaname = 'bronze' AND tablename NOT LIKE 'extraction%' "
                + "AND tablename NOT LIKE '\\_bronze\\_%' AND tablename NOT IN ('flyway_schema_history', 'schema_changes', 'table_set_runs') ORDER BY 1"))
                .containsExactly(List.of("orders_inc"), List.of("shifting"));
            assertThat(db.source().value("SELECT count(*) FROM pg_replication_slots WHERE database = current_database()")).isEqualTo("0");
            assertThat(db.source().value("SELECT count(*) FROM pg_publication")).as("no publication made").isEqualTo("0");
        } finally {
            second.close();
        }
    }

    /** A row of the table: what is wrong, the command (with VAR=value prefixes), the exit code, the line printed. */
    record BadInput(String input, String command, int exitCode, String message) {
        @Override
        public String toString() {
            return input;
        }
    }

    static Stream<BadInput> rows() throws IOException {
        var rows = new ArrayList<BadInput>();
        boolean inSection = false;
        for (String line : Files.readAllLines(PAGE)) {
            if (line.startsWith("## ")) {
                inSection = line.equals("## Bad input");
            } else if (inSection && line.startsWith("| ") && line.contains("`")) {
                String[] cells = line.substring(2, line.length() - 2).split(" \\| ");
                assertThat(cells).as("four cells in: " + line).hasSize(4);
                rows.add(new BadInput(cells[0].strip(), code(cells[1]), Integer.parseInt(cells[2].strip()), code(cells[3])));
            }
        }
        assertThat(rows).as("rows of the bad-input table in " + PAGE + " (its count is in the page's text and README.md)").hasSize(72);
        return rows.stream();
    }

    private static String code(String cell) {
        String text = cell.strip();
        assertThat(text).as("a cell in backticks").startsWith("`").endsWith("`");
        return text.substring(1, text.length() - 1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void printsItsLineAndExitsWithItsCode(BadInput row) throws IOException {
        var env = new HashMap<>(db.env());
        env.putAll(Map.of("SOURCE_PG_MAX_RETRIES", "0", "WAREHOUSE_PG_MAX_RETRIES", "0"));
        var words = new ArrayList<String>();
        for (String word : shellWords(row.command()
                .replace("{second}", secondSource.url()).replace("{files}", files.toString()))) {
            if (words.isEmpty() && word.matches("[A-Z_]+=.*")) {
                env.put(word.substring(0, word.indexOf('=')), word.substring(word.indexOf('=') + 1));
            } else {
                words.add(word);
            }
        }
        var run = Datakits.run(scriptClass(words.get(0)), env, words.subList(1, words.size()).toArray(String[]::new));

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(row.exitCode());
        assertThat(run.err().strip()).as(run.toString()).matches(linePattern("ERROR: " + row.message()));
    }

    /** The message with each … standing for any text. */
    static String linePattern(String message) {
        var pattern = new StringBuilder();
        for (String part : message.split("…", -1)) {
            pattern.append(pattern.isEmpty() ? "" : ".+?").append(Pattern.quote(part));
        }
        return pattern.toString();
    }

    /** The datakit class of a catalog alias: the file name of its script. */
    static String scriptClass(String alias) throws IOException {
        String script = new ObjectMapper().readTree(Path.of("jbang-catalog.json").toFile()).path("aliases").path(alias).path("script-ref").asText();
        assertThat(script).as("alias " + alias + " in jbang-catalog.json").isNotEmpty();
        return Path.of(script).getFileName().toString().replace(".java", "");
    }

    /** Splits a command as a POSIX shell would for plain words and '...' or "..." quoting (no escapes). */
    static List<String> shellWords(String command) {
        var words = new ArrayList<String>();
        var word = new StringBuilder();
        boolean inWord = false;
        char quote = 0;
        for (char c : command.toCharArray()) {
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else {
                    word.append(c);
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
            } else {
                word.append(c);
                inWord = true;
            }
        }
        assertThat((int) quote).as("closed quotes in " + command).isZero();
        if (inWord) {
            words.add(word.toString());
        }
        return words;
    }
}
