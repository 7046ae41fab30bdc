package datakit.docs;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.cli.DatakitCommand;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-table datakit in docs/copying-a-datakit.md compiles and copies its table as the page says. */
class CopyingDocIT {

    @Test
    void theCopiedDatakitOnThePageCompilesAndLoadsItsTable(@TempDir Path build) throws Exception {
        String page = Files.readString(Path.of("docs/copying-a-datakit.md"));
        var block = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(page);
        assertThat(block.find()).as("a java block on the page").isTrue();
        Path source = build.resolve("OrdersExtract.java");
        Files.writeString(source, block.group(1));
        int compiled = ToolProvider.getSystemJavaCompiler().run(null, null, null,
            "-d", build.toString(), "-cp", System.getProperty("java.class.path"), source.toString());
        assertThat(compiled).as("javac exit code").isZero();

        TestDatabase sourceDb = TestPostgres.createDatabase("doc_src");
        TestDatabase warehouse = TestPostgres.createDatabase("doc_wh");
        sourceDb.execute("CREATE SCHEMA sales", """
            CREATE TABLE sales.orders (id int, customer_id int, status text, total numeric, created_at timestamptz, secret text)""",
            "INSERT INTO sales.orders SELECT g, g % 7, 'new', g, now(), 'not copied' FROM generate_series(1, 25) g");
        try (var loader = new URLClassLoader(new java.net.URL[] {build.toUri().toURL()}, getClass().getClassLoader())) {
            var constructor = loader.loadClass("OrdersExtract").getDeclaredConstructor();
            constructor.setAccessible(true);
            var out = new StringWriter();
            int code = DatakitCommand.execute((DatakitCommand) constructor.newInstance(),
                Map.of("SOURCE_DATABASE_URL", sourceDb.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()),
                new PrintWriter(out), new PrintWriter(out), "--env-file", "/nonexistent/.env");
            assertThat(code).as(out.toString()).isZero();
        }
        assertThat(warehouse.count("bronze.orders")).isEqualTo(25);
        assertThat(warehouse.rows("""
                SELECT attname FROM pg_attribute WHERE attrelid = 'bronze.orders'::regclass AND attnum > 0
                AND attname NOT LIKE '\\_bronze%' ORDER BY attnum""").stream().map(r -> r.get(0)).toList())
            .isEqualTo(List.of("id", "customer_id", "status", "total", "created_at"));
    }
}
