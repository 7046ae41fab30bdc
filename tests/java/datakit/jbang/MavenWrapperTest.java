package datakit.jbang;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./mvnw}, README's test command: with JAVA_HOME and the java on PATH older than 21 it still runs
 * the pinned Maven on a JDK 21+, and a distribution whose SHA-256 is not the pinned one never reaches the
 * cache. The Maven it runs is a copy of the one the user's cache holds (the build that runs this test
 * usually came through ./mvnw), so no test downloads it.
 */
class MavenWrapperTest {
    static final Path REPO = Path.of("").toAbsolutePath();
    static String version;

    @TempDir
    Path cache;
    @TempDir
    Path mirror;

    @BeforeAll
    static void readPinnedVersion() throws IOException {
        var matcher = Pattern.compile("(?m)^MAVEN_VERSION=(\\S+)$").matcher(Files.readString(REPO.resolve("mvnw")));
        assertThat(matcher.find()).as("MAVEN_VERSION= in ./mvnw").isTrue();
        version = matcher.group(1);
    }

    record Result(int exitCode, String output) {
        List<String> lines() {
            return output.lines().toList();
        }
    }

    /** ./mvnw with the private cache, JAVA_HOME and PATH's java set to an old JDK (if the machine has one). */
    Result mvnw(Map<String, String> extra, String... args) throws IOException, InterruptedException {
        var command = new ArrayList<>(List.of(REPO.resolve("mvnw").toString()));
        command.addAll(List.of(args));
        var process = new ProcessBuilder(command).directory(REPO.toFile()).redirectErrorStream(true);
        Map<String, String> env = process.environment();
        env.keySet().removeIf(k -> k.startsWith("MAVEN_") || k.startsWith("DATAKIT_") || k.equals("XDG_CACHE_HOME"));
        Path oldJdk = oldJdk();
        env.put("JAVA_HOME", oldJdk.toString());
        env.put("PATH", oldJdk.resolve("bin") + ":/usr/bin:/bin");
        env.put("DATAKIT_MAVEN_HOME", cache.toString());
        env.putAll(extra);
        var p = process.start();
        p.getOutputStream().close();
        var output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(2, TimeUnit.MINUTES)).as("mvnw finished").isTrue();
        return new Result(p.exitValue(), output);
    }

    /** A JDK older than 21 in /usr/lib/jvm, else a folder that holds no JDK at all. */
    static Path oldJdk() throws IOException {
        try (Stream<Path> homes = Files.list(Path.of("/usr/lib/jvm"))) {
            return homes.filter(home -> Files.isRegularFile(home.resolve("release")) && Files.isDirectory(home.resolve("bin")))
                .filter(home -> major(home) < 21).sorted().findFirst().orElse(Path.of("/nonexistent"));
        } catch (IOException noJvmFolder) {
            return Path.of("/nonexistent");
        }
    }

    static int major(Path home) {
        try {
            var matcher = Pattern.compile("(?m)^JAVA_VERSION=\"(\\d+)").matcher(Files.readString(home.resolve("release")));
            return matcher.find() ? Integer.parseInt(matcher.group(1)) : 0;
        } catch (IOException unreadable) {
            return 0;
        }
    }

    /** The user's cached Maven, fetched there once (as any first ./mvnw run does) when the build came another way. */
    Path cachedMaven() throws IOException, InterruptedException {
        var home = System.getenv("DATAKIT_MAVEN_HOME") != null ? Path.of(System.getenv("DATAKIT_MAVEN_HOME"))
            : System.getenv("XDG_CACHE_HOME") != null ? Path.of(System.getenv("XDG_CACHE_HOME"), "datakit-maven")
            : Path.of(System.getProperty("user.home"), ".cache", "datakit-maven");
        if (!Files.isExecutable(home.resolve(version).resolve("bin/mvn"))) {
            var p = new ProcessBuilder(REPO.resolve("mvnw").toString(), "-q", "-v").inheritIO().start();
            assertThat(p.waitFor(5, TimeUnit.MINUTES) && p.exitValue() == 0).as("./mvnw -v fills the user's cache").isTrue();
        }
        return home.resolve(version);
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (var path : paths.toList()) {
                Files.copy(path, to.resolve(from.relativize(path).toString()), StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
    }

    @Test
    void runsThePinnedMavenOnAJdk21EvenWhenJavaHomeAndPathSayOlder() throws Exception {
        copyTree(cachedMaven(), cache.resolve(version));

        // An address that answers nothing: the cached Maven must be used as it is.
        var run = mvnw(Map.of("MAVEN_CENTRAL_URL", "file://" + mirror), "-v");

        assertThat(run.exitCode()).as(run.output()).isZero();
        assertThat(run.output()).contains("Apache Maven " + version + " ", "Maven home: " + cache.resolve(version));
        var java = Pattern.compile("(?m)^Java version: (\\d+)").matcher(run.output());
        assertThat(java.find()).as(run.output()).isTrue();
        assertThat(Integer.parseInt(java.group(1))).as(run.output()).isGreaterThanOrEqualTo(21);
    }

    @Test
    void aTamperedDownloadFailsWithOneLineAndLeavesNothingInTheCache() throws Exception {
        var name = "apache-maven-" + version + "-bin.tar.gz";
        var tarball = mirror.resolve("org/apache/maven/apache-maven").resolve(version).resolve(name);
        Files.createDirectories(tarball.getParent());
        Files.write(tarball, "not the Maven that was pinned".getBytes(StandardCharsets.UTF_8));

        var run = mvnw(Map.of("MAVEN_CENTRAL_URL", "file://" + mirror), "-v");

        assertThat(run.exitCode()).as(run.output()).isEqualTo(1);
        assertThat(run.lines()).as(run.output()).hasSize(2);
        assertThat(run.lines().get(0)).isEqualTo("[mvnw] downloading Apache Maven " + version + " from file://" + mirror + "...");
        assertThat(run.lines().get(1)).startsWith("ERROR: [mvnw] checksum mismatch for " + name + " from file://" + tarball)
            .endsWith("; the file was discarded.");
        try (Stream<Path> left = Files.list(cache)) {
            assertThat(left).as("what the failed download left in the cache").isEmpty();
        }
    }
}
