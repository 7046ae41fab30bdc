package datakit.sandbox;

import datakit.error.DatakitException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A PostgreSQL cluster made with the machine's own binaries: initdb in a new temporary folder, pg_ctl
 * to start it on a free port of 127.0.0.1, and the folder deleted on close. It is what the sandbox uses
 * where no Docker engine runs. A JVM shutdown hook stops a cluster the caller forgot to close, since
 * pg_ctl detaches the server and it would otherwise outlive the JVM.
 */
public final class LocalCluster implements PostgresServer {
    /** An IPv4 literal: "localhost" may resolve to ::1 first, where the server does not listen. */
    static final String HOST = "127.0.0.1";
    private static final int PORT_ATTEMPTS = 5;
    private static final int START_WAIT_SECONDS = 60;
    private static final Duration INITDB_TIMEOUT = Duration.ofMinutes(2);
    private static final Duration START_TIMEOUT = Duration.ofSeconds(START_WAIT_SECONDS + 30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    /** Logical decoding for the CDC features; no durability, because the data is deleted anyway. */
    private static final List<String> SETTINGS = List.of(
        "wal_level=logical", "max_wal_senders=10", "max_replication_slots=10", "max_connections=100",
        "fsync=off", "synchronous_commit=off", "full_page_writes=off");

    private static final FileAttribute<?> OWNER_ONLY =
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    private final PostgresBinaries binaries;
    private final ServerAccount account;
    /** Holds data/, server.log and the Unix socket. */
    private final Path dir;
    private final String password;
    private final Consumer<String> log;
    private final StopOnce stop;
    private volatile int port;
    private volatile String version = "";
    /** Settings a caller asked for on top of {@link #SETTINGS}, such as {@code wal_level=replica} or {@code ssl=on}. */
    private volatile List<String> extraSettings = List.of();

    private LocalCluster(PostgresBinaries binaries, ServerAccount account, Path dir, String password, Consumer<String> log) {
        this.binaries = binaries;
        this.account = account;
        this.dir = dir;
        this.password = password;
        this.log = log;
        this.stop = StopOnce.atExit(() -> {
            stopServer();
            deleteDir();
        });
    }

    /** Creates, starts and checks a cluster; on any failure deletes what was made and throws. */
    static LocalCluster start(PostgresBinaries binaries, Consumer<String> log) {
        var account = ServerAccount.detect();
        var cluster = new LocalCluster(binaries, account, newFolder(), PostgresSandbox.randomPassword(), log);
        return cluster.prepare(cluster::initdb);
    }

    /**
     * A hot standby of this cluster: a base backup ({@code pg_basebackup -R}) in a new folder, started on
     * a port of its own, streaming from this one. It has the same admin password and the same databases,
     * and takes read-only sessions; close it like any cluster (before or after this one).
     */
    public LocalCluster startStandby() {
        var standby = new LocalCluster(binaries, account, newFolder(), password, log);
        return standby.prepare(() -> standby.baseBackupOf(this));
    }

    private static Path newFolder() {
        try {
            return Files.createTempDirectory("datakit-pg-");
        } catch (IOException e) {
            throw DatakitException.notReady(("Cannot create a temporary folder for the PostgreSQL sandbox: %s. "
                + "Free some space in %s or point java.io.tmpdir elsewhere.")
                .formatted(e.getMessage(), System.getProperty("java.io.tmpdir")), e);
        }
    }

    /** What fills a new cluster's data folder: initdb, or a base backup of another cluster. */
    @FunctionalInterface
    private interface DataFolderSetUp {
        void run() throws IOException;
    }

    /** Fills the data folder, starts the server and checks it; on any failure deletes what was made and throws. */
    private LocalCluster prepare(DataFolderSetUp setUp) {
        try {
            account.handOver(dir);
            setUp.run();
            startServer();
            version = queryVersion();
            return this;
        } catch (IOException e) {
            close();
            throw DatakitException.notReady("Cannot prepare the PostgreSQL sandbox in %s: %s"
                .formatted(dir, e.getMessage()), e);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Copies {@code primary} with pg_basebackup over its Unix socket (trusted locally, so no password is
     * needed) and leaves standby.signal and primary_conninfo behind ({@code -R}), so the copy starts as
     * its hot standby.
     */
    private void baseBackupOf(LocalCluster primary) {
        log.accept("Taking a base backup of %s:%d into %s for a hot standby.".formatted(HOST, primary.port, dir));
        account.run(List.of(binaries.bin().resolve("pg_basebackup").toString(), "-D", dataDir().toString(),
                "-h", primary.dir.toString(), "-p", String.valueOf(primary.port), "-U", ServerAccount.POSTGRES,
                "-R", "-X", "stream", "-c", "fast", "--no-sync"), dir, INITDB_TIMEOUT)
            .orFail("Run that pg_basebackup by hand to see why.");
    }

    private Path dataDir() {
        return dir.resolve("data");
    }

    private Path serverLog() {
        return dir.resolve("server.log");
    }

    private void initdb() throws IOException {
        log.accept("Creating a PostgreSQL cluster in %s with %s (found via %s), run as %s."
            .formatted(dir, binaries.initdb(), binaries.origin(), account.describe()));
        // initdb reads the superuser's password from a file so it never shows in a process list.
        Path pwfile = Files.createFile(dir.resolve("pwfile"), OWNER_ONLY);
        try {
            Files.writeString(pwfile, password + "\n");
            account.own(pwfile);
            account.run(List.of(binaries.initdb().toString(), "-D", dataDir().toString(),
                    "--username=" + ServerAccount.POSTGRES, "--pwfile=" + pwfile,
                    "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync"),
                dir, INITDB_TIMEOUT)
                .orFail("Run that initdb by hand to see why, or set %s to another PostgreSQL install's bin folder."
                    .formatted(PostgresBinaries.BIN_VARIABLE));
        } finally {
            Files.deleteIfExists(pwfile);
        }
    }

    /** Starts the server on a free port; another process may take the port first, so a clash is retried. */
    private void startServer() throws IOException {
        for (int attempt = 1; ; attempt++) {
            port = freePort();
            var result = pgCtlStart();
            if (result.succeeded()) {
                log.accept("Started PostgreSQL on %s:%d.".formatted(HOST, port));
                return;
            }
            if (attempt < PORT_ATTEMPTS && portWasTaken()) {
                log.accept("Port %d was taken before the server could bind it; trying another.".formatted(port));
                continue;
            }
            throw DatakitException.notReady("pg_ctl could not start the sandbox PostgreSQL server in %s (exit code %d).%s%s%n%s".formatted(
                    dataDir(), result.exitCode(), ExternalCommand.quote("pg_ctl said", result.output()),
                    ExternalCommand.quoteFile("The server log", serverLog()),
                    "Fix the cause the log names, or set DATAKIT_SANDBOX=docker to use a container instead."));
        }
    }

    private ExternalCommand.Result pgCtlStart() throws IOException {
        Files.deleteIfExists(serverLog());
        return account.run(List.of(binaries.pgCtl().toString(), "start", "-w", "-t", String.valueOf(START_WAIT_SECONDS),
                "-D", dataDir().toString(), "-l", serverLog().toString(), "-o", serverOptions()),
            dir, START_TIMEOUT);
    }

    /**
     * Stops the server ({@code -m fast}: sessions are ended, as in a real restart) and starts it again on
     * the same port, with {@code settings} on top of the sandbox's own ({@code wal_level=replica},
     * {@code ssl=on}...). Clients see their connections end and new ones refused until it is back.
     */
    public void restart(List<String> settings) {
        restart(settings, "fast");
    }

    /**
     * Stops the server as a crash would ({@code -m immediate}: no shutdown checkpoint, walsenders do not
     * send what is left) and starts it again on the same port, which then runs crash recovery.
     */
    public void crashAndRestart() {
        restart(extraSettings, "immediate");
    }

    private void restart(List<String> settings, String stopMode) {
        extraSettings = List.copyOf(settings);
        try {
            account.run(List.of(binaries.pgCtl().toString(), "stop", "-m", stopMode, "-w", "-D", dataDir().toString()), dir, STOP_TIMEOUT)
                .orFail("Stop the server in %s by hand.".formatted(dataDir()));
            pgCtlStart().orFail(ExternalCommand.quoteFile("The server log", serverLog()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot restart the sandbox server in " + dir, e);
        }
        log.accept("Restarted PostgreSQL on %s:%d (stopped -m %s) with %s.".formatted(HOST, port, stopMode, settings));
    }

    /**
     * Writes a file the server can read (owner-only, owned by the server's account) into the cluster's
     * folder, such as a TLS key for {@code ssl_key_file}, and returns its path.
     */
    public Path writeServerFile(String name, String content) {
        Path file = dir.resolve(name);
        try {
            Files.deleteIfExists(file);
            Files.createFile(file, OWNER_ONLY);
            Files.writeString(file, content);
            account.own(file);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private boolean portWasTaken() {
        try {
            return Files.readString(serverLog()).contains("Address already in use");
        } catch (IOException e) {
            return false;
        }
    }

    /** The {@code -o} argument of pg_ctl, which pg_ctl hands to /bin/sh: each setting is quoted for it. */
    private String serverOptions() {
        var settings = new ArrayList<String>();
        settings.add("port=" + port);
        settings.add("listen_addresses=" + HOST);
        settings.add("unix_socket_directories=" + dir);
        settings.addAll(SETTINGS);
        settings.addAll(extraSettings);
        return settings.stream().map(s -> "-c " + ExternalCommand.shellQuote(s)).collect(Collectors.joining(" "));
    }

    private static int freePort() throws IOException {
        try (var socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return socket.getLocalPort();
        }
    }

    /** The version, through a password login over TCP: the way every caller will connect. */
    private String queryVersion() {
        var props = new Properties();
        props.setProperty("user", adminUser());
        props.setProperty("password", password);
        props.setProperty("connectTimeout", "10");
        try (var connection = DriverManager.getConnection(jdbcUrl("postgres"), props);
             var statement = connection.createStatement();
             var rows = statement.executeQuery("SHOW server_version")) {
            rows.next();
            // "15.18 (Debian 15.18-1.pgdg120+1)": the number is enough.
            return rows.getString(1).split(" ")[0];
        } catch (SQLException e) {
            throw DatakitException.notReady("The sandbox PostgreSQL server started on %s:%d but refused the admin login: %s.%s%n%s".formatted(
                    HOST, port, e.getMessage(), ExternalCommand.quoteFile("The server log", serverLog()),
                    "Check that nothing else intercepts 127.0.0.1 connections, or set DATAKIT_SANDBOX=docker."), e);
        }
    }

    @Override
    public String host() {
        return HOST;
    }

    @Override
    public int port() {
        return port;
    }

    @Override
    public String adminUser() {
        return ServerAccount.POSTGRES;
    }

    @Override
    public String adminPassword() {
        return password;
    }

    @Override
    public String description() {
        return "local PostgreSQL %s from %s in %s".formatted(version, binaries.bin(), dir);
    }

    @Override
    public void close() {
        stop.now();
    }

    /** pg_ctl stop; if that fails, the server process is killed, since its data is about to be deleted. */
    private void stopServer() {
        Path pidFile = dataDir().resolve("postmaster.pid");
        if (!Files.exists(pidFile)) {
            return;
        }
        try {
            account.run(List.of(binaries.pgCtl().toString(), "stop", "-m", "immediate", "-w", "-D", dataDir().toString()),
                dir, STOP_TIMEOUT).orFail("Killing the server instead.");
        } catch (DatakitException e) {
            log.accept(e.getMessage());
            try (Stream<String> lines = Files.lines(pidFile)) {
                lines.findFirst().flatMap(pid -> ProcessHandle.of(Long.parseLong(pid.strip())))
                    .ifPresent(ProcessHandle::destroyForcibly);
            } catch (IOException | UncheckedIOException | NumberFormatException gone) {
                // No readable pid file: the server is gone already.
            }
        }
    }

    private void deleteDir() {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException | UncheckedIOException e) {
            log.accept("Could not delete the sandbox folder %s: %s. Delete it by hand.".formatted(dir, e.getMessage()));
        }
    }
}
