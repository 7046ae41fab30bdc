package datakit.sandbox;

import datakit.error.DatakitException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The server of a {@link LocalCluster}, run with pg_ctl as the server's account: started on a free port of
 * 127.0.0.1 (another one when a process takes the port first), restarted with other settings or as after a
 * crash, and stopped, or killed when pg_ctl cannot stop it.
 */
final class ServerProcess {
    private static final int PORT_ATTEMPTS = 5;
    private static final int START_WAIT_SECONDS = 60;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(START_WAIT_SECONDS + 30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    /** Logical decoding for the CDC features; no durability, because the data is deleted anyway. */
    private static final List<String> SETTINGS = List.of(
        "wal_level=logical", "max_wal_senders=10", "max_replication_slots=10", "max_connections=100",
        "fsync=off", "synchronous_commit=off", "full_page_writes=off");

    private final PostgresBinaries binaries;
    private final ServerAccount account;
    private final ClusterFolder folder;
    private final Consumer<String> log;
    private volatile int port;
    /** Settings a caller asked for on top of {@link #SETTINGS}, such as {@code wal_level=replica} or {@code ssl=on}. */
    private volatile List<String> extraSettings = List.of();

    ServerProcess(PostgresBinaries binaries, ServerAccount account, ClusterFolder folder, Consumer<String> log) {
        this.binaries = binaries;
        this.account = account;
        this.folder = folder;
        this.log = log;
    }

    int port() {
        return port;
    }

    /** Starts the server on a free port; another process may take the port first, so a clash is retried. */
    void start() throws IOException {
        for (int attempt = 1; ; attempt++) {
            port = freePort();
            var result = pgCtlStart();
            if (result.succeeded()) {
                log.accept("Started PostgreSQL on %s:%d.".formatted(LocalCluster.HOST, port));
                return;
            }
            if (attempt < PORT_ATTEMPTS && folder.serverLogSays("Address already in use")) {
                log.accept("Port %d was taken before the server could bind it; trying another.".formatted(port));
                continue;
            }
            throw DatakitException.notReady("pg_ctl could not start the sandbox PostgreSQL server in %s (exit code %d).%s%s%n%s".formatted(
                    folder.data(), result.exitCode(), ExternalCommand.quote("pg_ctl said", result.output()),
                    ExternalCommand.quoteFile("The server log", folder.serverLog()),
                    "Fix the cause the log names, or set DATAKIT_SANDBOX=docker to use a container instead."));
        }
    }

    private ExternalCommand.Result pgCtlStart() throws IOException {
        Files.deleteIfExists(folder.serverLog());
        return account.run(List.of(binaries.pgCtl().toString(), "start", "-w", "-t", String.valueOf(START_WAIT_SECONDS),
                "-D", folder.data().toString(), "-l", folder.serverLog().toString(), "-o", serverOptions()),
            folder.path(), START_TIMEOUT);
    }

    /**
     * Stops the server ({@code stopMode}: {@code fast} ends sessions as a real restart does, {@code immediate} as a crash)
     * and starts it again on the same port, with {@code settings} on top of the sandbox's own.
     */
    void restart(List<String> settings, String stopMode) {
        extraSettings = List.copyOf(settings);
        try {
            account.run(List.of(binaries.pgCtl().toString(), "stop", "-m", stopMode, "-w", "-D", folder.data().toString()),
                    folder.path(), STOP_TIMEOUT)
                .orFail("Stop the server in %s by hand.".formatted(folder.data()));
            pgCtlStart().orFail(ExternalCommand.quoteFile("The server log", folder.serverLog()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot restart the sandbox server in " + folder, e);
        }
        log.accept("Restarted PostgreSQL on %s:%d (stopped -m %s) with %s.".formatted(LocalCluster.HOST, port, stopMode, settings));
    }

    /** The settings the server runs with on top of the sandbox's own. */
    List<String> extraSettings() {
        return extraSettings;
    }

    /** The {@code -o} argument of pg_ctl, which pg_ctl hands to /bin/sh: each setting is quoted for it. */
    private String serverOptions() {
        var settings = new ArrayList<String>();
        settings.add("port=" + port);
        settings.add("listen_addresses=" + LocalCluster.HOST);
        settings.add("unix_socket_directories=" + folder.path());
        settings.addAll(SETTINGS);
        settings.addAll(extraSettings);
        return settings.stream().map(s -> "-c " + ExternalCommand.shellQuote(s)).collect(Collectors.joining(" "));
    }

    private static int freePort() throws IOException {
        try (var socket = new ServerSocket(0, 1, InetAddress.getByName(LocalCluster.HOST))) {
            return socket.getLocalPort();
        }
    }

    /** pg_ctl stop; if that fails, the server process is killed, since its data is about to be deleted. */
    void stop() {
        Path pidFile = folder.data().resolve("postmaster.pid");
        if (!Files.exists(pidFile)) {
            return;
        }
        try {
            account.run(List.of(binaries.pgCtl().toString(), "stop", "-m", "immediate", "-w", "-D", folder.data().toString()),
                folder.path(), STOP_TIMEOUT).orFail("Killing the server instead.");
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
}
