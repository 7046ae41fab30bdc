package datakit.sandbox;

import datakit.error.DatakitException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The temporary folder of a {@link LocalCluster}: its data folder, the server's log and its Unix socket,
 * and files only the server's account may read. Deleted with all it holds when the cluster closes.
 */
final class ClusterFolder {
    private static final FileAttribute<?> OWNER_ONLY =
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    private final Path dir;

    private ClusterFolder(Path dir) {
        this.dir = dir;
    }

    static ClusterFolder create() {
        try {
            return new ClusterFolder(Files.createTempDirectory("datakit-pg-"));
        } catch (IOException e) {
            throw DatakitException.notReady(("Cannot create a temporary folder for the PostgreSQL sandbox: %s. "
                + "Free some space in %s or point java.io.tmpdir elsewhere.")
                .formatted(e.getMessage(), System.getProperty("java.io.tmpdir")), e);
        }
    }

    /** The folder itself, which also holds the server's Unix socket. */
    Path path() {
        return dir;
    }

    Path data() {
        return dir.resolve("data");
    }

    Path serverLog() {
        return dir.resolve("server.log");
    }

    /** Whether the server's log holds {@code text}; false when there is no log to read. */
    boolean serverLogSays(String text) {
        try {
            return Files.readString(serverLog()).contains(text);
        } catch (IOException e) {
            return false;
        }
    }

    /** Writes a file only its owner may read, owned by the server's account, in place of any file of that name. */
    Path writeOwnerOnly(String name, String content, ServerAccount account) throws IOException {
        Path file = dir.resolve(name);
        Files.deleteIfExists(file);
        Files.createFile(file, OWNER_ONLY);
        Files.writeString(file, content);
        account.own(file);
        return file;
    }

    /** Deletes the folder and all it holds; what cannot be deleted is logged for the user to delete. */
    void delete(Consumer<String> log) {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException | UncheckedIOException e) {
            log.accept("Could not delete the sandbox folder %s: %s. Delete it by hand.".formatted(dir, e.getMessage()));
        }
    }

    @Override
    public String toString() {
        return dir.toString();
    }
}
