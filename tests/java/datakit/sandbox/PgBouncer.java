package datakit.sandbox;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A PgBouncer in front of a test's PostgreSQL server, with the settings a new install has (no
 * {@code ignore_startup_parameters}, no prepared-statement support) and the chosen pool mode. Clients log
 * in as any role of the server with its own password: PgBouncer looks the SCRAM secret up with
 * {@code auth_query} as the server's admin and passes the login through. Tests use it to run datakits the
 * way production often reaches a database. Needs the {@code pgbouncer} program (Debian package pgbouncer).
 */
public final class PgBouncer implements PostgresServer {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    /** How PgBouncer hands server connections to clients. */
    public enum PoolMode {
        SESSION, TRANSACTION;

        String setting() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final PostgresServer server;
    private final PoolMode mode;
    private final Path dir;
    private final int port;
    private final Process process;
    private final StopOnce stop;

    private PgBouncer(PostgresServer server, PoolMode mode, Path dir, int port, Process process) {
        this.server = server;
        this.mode = mode;
        this.dir = dir;
        this.port = port;
        this.process = process;
        this.stop = StopOnce.atExit(this::stopAndDelete);
    }

    /**
     * Starts PgBouncer in {@code mode} in front of {@code server}, with at most {@code poolSize} server
     * connections per database and user (small pools make clients share server connections, as busy
     * production pools do).
     */
    public static PgBouncer start(PostgresServer server, PoolMode mode, int poolSize) {
        Path program = ExternalCommand.onPath("pgbouncer")
            .or(() -> Optional.of(Path.of("/usr/sbin/pgbouncer")).filter(Files::isExecutable))
            .orElseThrow(() -> new IllegalStateException("These tests need PgBouncer: install it (Debian: apt-get install pgbouncer)."));
        var account = ServerAccount.detect();
        try {
            Path dir = Files.createTempDirectory("datakit-pgbouncer-");
            account.handOver(dir);
            int port = freePort();
            Path ini = write(account, dir, "pgbouncer.ini", """
                [databases]
                * = host=%s port=%d
                [pgbouncer]
                listen_addr = 127.0.0.1
                listen_port = %d
                unix_socket_dir =
                auth_type = scram-sha-256
                auth_file = %s
                auth_user = %s
                pool_mode = %s
                default_pool_size = %d
                max_client_conn = 500
                logfile = %s
                pidfile = %s
                """.formatted(server.host(), server.port(), port, dir.resolve("userlist.txt"), server.adminUser(), mode.setting(),
                poolSize, dir.resolve("pgbouncer.log"), dir.resolve("pgbouncer.pid")));
            write(account, dir, "userlist.txt", "\"%s\" \"%s\"%n".formatted(server.adminUser(), server.adminPassword()));
            Process process = new ProcessBuilder(account.asAccount(List.of(program.toString(), ini.toString())))
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(dir.resolve("stdout.log").toFile()).start();
            var bouncer = new PgBouncer(server, mode, dir, port, process);
            bouncer.awaitListening();
            return bouncer;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start PgBouncer", e);
        }
    }

    private static Path write(ServerAccount account, Path dir, String name, String content) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, content);
        account.own(file);
        return file;
    }

    private void awaitListening() {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("PgBouncer exited with code " + process.exitValue() + ": " + log());
            }
            try (var socket = new Socket()) {
                socket.connect(new InetSocketAddress(host(), port), 200);
                return;
            } catch (IOException notYet) {
                sleep(100);
            }
        }
        close();
        throw new IllegalStateException("PgBouncer did not listen on port " + port + " within " + START_TIMEOUT + ": " + log());
    }

    /** PgBouncer's log so far, for failure messages. */
    public String log() {
        try {
            return Files.readString(dir.resolve("pgbouncer.log")) + Files.readString(dir.resolve("stdout.log"));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    public PoolMode mode() {
        return mode;
    }

    /** The server behind the pooler. */
    public PostgresServer server() {
        return server;
    }

    @Override
    public String host() {
        return "127.0.0.1";
    }

    @Override
    public int port() {
        return port;
    }

    @Override
    public String adminUser() {
        return server.adminUser();
    }

    @Override
    public String adminPassword() {
        return server.adminPassword();
    }

    @Override
    public String description() {
        return "PgBouncer (%s pooling) on port %d in front of %s".formatted(mode.setting(), port, server.description());
    }

    @Override
    public void close() {
        stop.now();
    }

    private void stopAndDelete() {
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException | UncheckedIOException e) {
            // A temporary folder left behind is harmless.
        }
    }

    private static int freePort() throws IOException {
        try (var socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return socket.getLocalPort();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
