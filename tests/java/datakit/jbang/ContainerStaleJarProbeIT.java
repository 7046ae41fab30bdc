package datakit.jbang;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review probe of {@code container/datakit}: a datakit jar replaced by another whose modification time is older than the
 * cache (Docker {@code COPY}, {@code cp -p}, {@code tar x} and {@code rsync -a} keep a file's time) must run the new classes.
 */
class ContainerStaleJarProbeIT {
    static final Path REPO = Path.of("").toAbsolutePath();
    static final String JAVA_BIN = System.getProperty("java.home") + "/bin/";

    @TempDir
    Path work;

    @Test
    void aJarReplacedWithAnOlderModificationTimeRunsItsOwnClasses() throws Exception {
        assumeTrue(Runtime.version().feature() >= 25, "ahead-of-time caches need Java 25+");
        Path home = Files.createDirectories(work.resolve("home"));
        Path v1 = jar("1");
        Path v2 = jar("2");
        Path jar = home.resolve("Hello.jar");
        Files.copy(v1, jar);
        // Trained as container/train does: the recorded run, then the cache made from it.
        run(home, JAVA_BIN + "java", "-XX:AOTMode=record", "-XX:AOTConfiguration=hello.aotconf", "-jar", jar.toString());
        run(home, JAVA_BIN + "java", "-XX:AOTMode=create", "-XX:AOTConfiguration=hello.aotconf", "-XX:AOTCache=Hello.aot", "-jar",
            jar.toString());
        assertThat(home.resolve("Hello.aot")).isNotEmptyFile();
        assertThat(run(home, REPO.resolve("container/datakit").toString(), "hello")).isEqualTo("jar version 1\n");

        Files.copy(v2, jar, StandardCopyOption.REPLACE_EXISTING);
        Files.setLastModifiedTime(jar, FileTime.from(Instant.parse("2024-01-01T00:00:00Z")));
        assertThat(run(home, REPO.resolve("container/datakit").toString(), "hello")).isEqualTo("jar version 2\n");
    }

    private Path jar(String version) throws Exception {
        Path dir = Files.createDirectories(work.resolve("v" + version));
        Files.writeString(dir.resolve("Hello.java"),
            "public class Hello { public static void main(String[] a) { System.out.println(\"jar version " + version + "\"); } }");
        run(dir, JAVA_BIN + "javac", "Hello.java");
        run(dir, JAVA_BIN + "jar", "--create", "--file", "../Hello-v" + version + ".jar", "--main-class", "Hello", "Hello.class");
        return work.resolve("Hello-v" + version + ".jar");
    }

    private String run(Path folder, String... command) throws IOException, InterruptedException {
        var builder = new ProcessBuilder(List.of(command)).directory(folder.toFile()).redirectErrorStream(true);
        builder.environment().put("DATAKITS_HOME", work.resolve("home").toString());
        builder.environment().put("PATH", JAVA_BIN + ":" + builder.environment().getOrDefault("PATH", "/usr/bin:/bin"));
        builder.environment().remove("JAVA_OPTIONS");
        Process p = builder.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
        assertThat(p.exitValue()).as(output).isZero();
        return output;
    }
}
