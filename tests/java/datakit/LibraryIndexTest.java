package datakit;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * JBang builds the datakits from shared/library.java and shared/sandbox.java, which name every file
 * one by one (globs do not work for remote scripts). These tests keep those lists equal to what is
 * in shared/src and migrations/, and their dependencies equal to the Maven build's.
 */
class LibraryIndexTest {
    static final Path SHARED = Path.of("shared");
    static final Pattern DIRECTIVE = Pattern.compile("^//(SOURCES|DEPS|FILES) (\\S+)", Pattern.MULTILINE);

    @Test
    void libraryJavaListsEverySharedSourceOutsideTheSandbox() throws IOException {
        assertThat(directives("library.java", "SOURCES")).as(hint(false)).isEqualTo(sources(false));
    }

    @Test
    void sandboxJavaListsEverySandboxAndDemoSource() throws IOException {
        assertThat(directives("sandbox.java", "SOURCES")).as(hint(true)).isEqualTo(sources(true));
    }

    @Test
    void libraryJavaShipsEveryMigration() throws IOException {
        try (Stream<Path> files = Files.list(Path.of("migrations"))) {
            List<String> expected = files.map(p -> "db/bronze/" + p.getFileName() + "=../migrations/" + p.getFileName()).sorted().toList();
            assertThat(directives("library.java", "FILES").stream().sorted().toList()).isEqualTo(expected);
        }
    }

    @Test
    void jbangDependenciesMatchTheMavenBuild() throws IOException {
        String pom = Files.readString(Path.of("pom.xml"));
        for (String dependency : directives("library.java", "DEPS")) {
            String[] gav = dependency.split(":");
            assertThat(pom).as("pom.xml declares %s", dependency)
                .containsPattern("<groupId>" + Pattern.quote(gav[0]) + "</groupId><artifactId>" + Pattern.quote(gav[1])
                    + "</artifactId><version>\\$\\{[a-z0-9.]+}</version>");
            assertThat(pom).as("pom.xml pins %s at %s", gav[1], gav[2]).contains(">" + gav[2] + "<");
        }
    }

    private static List<String> directives(String file, String kind) throws IOException {
        Matcher m = DIRECTIVE.matcher(Files.readString(SHARED.resolve(file)));
        var found = new java.util.ArrayList<String>();
        while (m.find()) {
            if (m.group(1).equals(kind)) {
                found.add(m.group(2));
            }
        }
        return found;
    }

    private static List<String> sources(boolean sandbox) throws IOException {
        try (Stream<Path> files = Files.walk(SHARED.resolve("src/main/java"))) {
            return files.filter(p -> p.toString().endsWith(".java"))
                .map(p -> SHARED.relativize(p).toString().replace('\\', '/'))
                .filter(p -> (p.contains("/sandbox/") || p.contains("/demo/")) == sandbox)
                .sorted()
                .toList();
        }
    }

    private static String hint(boolean sandbox) {
        try {
            return "the //SOURCES lines of shared/" + (sandbox ? "sandbox" : "library") + ".java should be:\n"
                + String.join("\n", sources(sandbox).stream().map(s -> "//SOURCES " + s).toList());
        } catch (IOException e) {
            return e.toString();
        }
    }
}
