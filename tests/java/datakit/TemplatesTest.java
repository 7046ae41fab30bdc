package datakit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The catalog's templates are their datakits with the table pinned: their imports, options and steps
 * must not drift from the datakit they copy (templates/*.java.qute against datakits/*.java).
 */
class TemplatesTest {
    static final Map<String, String> COPIES = Map.of("full", "PostgresExtract", "incremental", "PostgresIncremental",
        "partitioned", "PostgresPartitioned", "jsonb", "PostgresJsonb", "cdc", "PostgresCdc");

    @Test
    void everyTemplateHasTheStepsOfItsDatakit() throws Exception {
        for (var entry : COPIES.entrySet()) {
            String template = Files.readString(Path.of("templates", entry.getKey() + ".java.qute"));
            String datakit = Files.readString(Path.of("datakits", entry.getValue() + ".java"));
            assertThat(between(template, "import ", "@Command")).as(entry.getKey() + " imports").isEqualTo(between(datakit, "import ", "@Command"));
            assertThat(between(template, "    @Mixin", "    public static void main"))
                .as(entry.getKey() + " options and steps").isEqualTo(between(datakit, "    @Mixin", "    public static void main"));
            assertThat(template).contains("class {baseName} extends DatakitCommand", "exit(new {baseName}(), withArguments(args, \"--table\", \"{table}\"");
        }
    }

    private static String between(String text, String from, String to) {
        int start = text.indexOf(from);
        return text.substring(start, text.indexOf(to, start));
    }
}
