package datakit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.testing.Datakits;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every datakit's --help reads as written: no "null" where picocli found no value for a ${...} in the text. */
class HelpTextTest {

    static List<String> scripts() throws IOException {
        var scripts = new ArrayList<String>();
        new ObjectMapper().readTree(Path.of("jbang-catalog.json").toFile()).path("aliases").forEach(alias ->
            scripts.add(Path.of(alias.path("script-ref").asText()).getFileName().toString().replace(".java", "")));
        assertThat(scripts).hasSizeGreaterThan(10);
        return scripts;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scripts")
    void helpNamesNoMissingValue(String script) {
        var run = Datakits.run(script, Map.of(), "--help");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).as(run.toString()).doesNotContainPattern("\\bnull\\b");
        if (script.equals("BronzeJobs")) {
            assertThat(run.out()).contains("${NAME} references are resolved from the environment");
        }
    }
}
