package datakit.sandbox;

import datakit.error.DatakitException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The folder holding a PostgreSQL server's programs (initdb, pg_ctl, postgres), found where packages
 * put them. Distributions rarely put initdb on PATH (Debian keeps it in /usr/lib/postgresql/15/bin), so
 * PATH alone would miss most installed servers.
 *
 * @param origin how it was found, for messages: "DATAKIT_PG_BIN", "pg_config --bindir", "PATH"...
 */
record PostgresBinaries(Path bin, String origin) {
    static final String BIN_VARIABLE = "DATAKIT_PG_BIN";

    /** Where packages install versioned servers: the {@code *} is the major version; the highest wins. */
    private static final List<String> VERSIONED_FOLDERS = List.of(
        "/usr/lib/postgresql/*/bin",              // Debian, Ubuntu
        "/usr/pgsql-*/bin",                       // RHEL, Fedora (PGDG)
        "/usr/local/pgsql/bin",                   // built from source
        "/opt/homebrew/opt/postgresql@*/bin",     // Homebrew on Apple silicon
        "/usr/local/opt/postgresql@*/bin");       // Homebrew on Intel

    /** Where {@link #find} looks, for messages. */
    static final String SEARCHED = BIN_VARIABLE + ", pg_config --bindir, PATH, " + String.join(", ", VERSIONED_FOLDERS);

    Path initdb() {
        return bin.resolve("initdb");
    }

    Path pgCtl() {
        return bin.resolve("pg_ctl");
    }

    /**
     * The first complete set of programs in: {@code DATAKIT_PG_BIN}, {@code pg_config --bindir}, initdb on
     * PATH, then the highest version in the usual package folders. A {@code DATAKIT_PG_BIN} that lacks
     * them is an error rather than skipped: the user asked for that folder.
     */
    static Optional<PostgresBinaries> find(Map<String, String> env) {
        String configured = env.get(BIN_VARIABLE);
        if (configured != null && !configured.isBlank()) {
            Path bin = Path.of(configured.strip());
            if (!complete(bin)) {
                throw DatakitException.badInput("%s is %s, but that folder has no initdb, pg_ctl and postgres programs. "
                    + "Set it to the bin folder of a PostgreSQL server install (for example /usr/lib/postgresql/17/bin).",
                    BIN_VARIABLE, bin);
            }
            return Optional.of(new PostgresBinaries(bin, BIN_VARIABLE));
        }
        return fromPgConfig()
            .or(() -> ExternalCommand.onPath("initdb").map(PostgresBinaries::realFolder).filter(PostgresBinaries::complete)
                .map(bin -> new PostgresBinaries(bin, "PATH")))
            .or(PostgresBinaries::highestInstalled);
    }

    private static Optional<PostgresBinaries> fromPgConfig() {
        Optional<Path> pgConfig = ExternalCommand.onPath("pg_config");
        if (pgConfig.isEmpty()) {
            return Optional.empty();
        }
        var result = ExternalCommand.run(List.of(pgConfig.get().toString(), "--bindir"), null, Duration.ofSeconds(10));
        // The client package's pg_config may name a bindir without a server in it; then keep looking.
        return Optional.of(result)
            .filter(ExternalCommand.Result::succeeded)
            .map(r -> Path.of(r.output().strip()))
            .filter(PostgresBinaries::complete)
            .map(bin -> new PostgresBinaries(bin, "pg_config --bindir"));
    }

    /** The folder of the real program: /usr/local/bin/initdb may link to /usr/lib/postgresql/15/bin/initdb. */
    private static Path realFolder(Path program) {
        try {
            return program.toRealPath().getParent();
        } catch (IOException e) {
            return program.getParent();
        }
    }

    private static Optional<PostgresBinaries> highestInstalled() {
        var found = new ArrayList<Path>();
        for (String folder : VERSIONED_FOLDERS) {
            found.addAll(expand(folder));
        }
        return found.stream()
            .filter(PostgresBinaries::complete)
            .max(Comparator.comparing(PostgresBinaries::versionOf, PostgresBinaries::compareVersions))
            .map(bin -> new PostgresBinaries(bin, "the installed packages"));
    }

    /** The folders matching one of {@link #VERSIONED_FOLDERS}, where a star stands for part of one folder name. */
    private static List<Path> expand(String pattern) {
        int star = pattern.indexOf('*');
        if (star < 0) {
            return List.of(Path.of(pattern));
        }
        Path parent = Path.of(pattern.substring(0, pattern.lastIndexOf('/', star)));
        int end = pattern.indexOf('/', star);
        String glob = pattern.substring(parent.toString().length() + 1, end);
        String rest = pattern.substring(end + 1);
        var matches = new ArrayList<Path>();
        if (Files.isDirectory(parent)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(parent, glob)) {
                entries.forEach(entry -> matches.add(entry.resolve(rest)));
            } catch (IOException e) {
                // An unreadable folder holds no server we could use.
            }
        }
        return matches;
    }

    private static final Pattern VERSION = Pattern.compile("(\\d+(?:\\.\\d+)*)");

    /** The version in a folder's path (17 in /usr/lib/postgresql/17/bin), empty when it has none. */
    static String versionOf(Path bin) {
        Matcher m = VERSION.matcher(bin.toString());
        String version = "";
        while (m.find()) {
            version = m.group(1);
        }
        return version;
    }

    /** Numeric comparison, part by part, so 9.6 < 10 < 17; no version sorts lowest. */
    static int compareVersions(String a, String b) {
        String[] x = a.isEmpty() ? new String[0] : a.split("\\.");
        String[] y = b.isEmpty() ? new String[0] : b.split("\\.");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int cmp = Integer.compare(part(x, i), part(y, i));
            if (cmp != 0) {
                return cmp;
            }
        }
        return 0;
    }

    private static int part(String[] version, int i) {
        return i < version.length ? Integer.parseInt(version[i]) : -1;
    }

    private static boolean complete(Path bin) {
        return bin != null && Files.isExecutable(bin.resolve("initdb")) && Files.isExecutable(bin.resolve("pg_ctl"))
            && Files.isExecutable(bin.resolve("postgres"));
    }
}
