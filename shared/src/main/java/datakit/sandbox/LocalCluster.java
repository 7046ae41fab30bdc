package datakit.sandbox;

import datakit.error.DatakitException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.function.Consumer;

/**
 * A PostgreSQL cluster made with the machine's own binaries: initdb in a new temporary folder
 * ({@link ClusterFolder}), pg_ctl to start it on a free port of 127.0.0.1 ({@link ServerProcess}), and the
 * folder deleted on close. It is what the sandbox uses where no Docker engine runs. A JVM shutdown hook
 * stops a cluster the caller forgot to close, since pg_ctl detaches the server and it would otherwise
 * outlive the JVM.
 */
public final class LocalCluster implements PostgresServer {
    /** An IPv4 literal: "localhost" may resolve to ::1 first, where the server does not listen. */
    static final String HOST = "127.0.0.1";
    private static final Duration INITDB_TIMEOUT = Duration.ofMinutes(2);

    private final PostgresBinaries binaries;
    private final ServerAccount account;
    private final ClusterFolder folder;
    private final ServerProcess server;
    private final String password;
    private final Consumer<String> log;
    private final StopOnce stop;
    private volatile String version = "";

    private LocalCluster(PostgresBinaries binaries, ServerAccount account, ClusterFolder folder, String password, Consumer<String> log) {
        this.binaries = binaries;
        this.account = account;
        this.folder = folder;
        this.server = new ServerProcess(binaries, account, folder, log);
        this.password = password;
        this.log = log;
        this.stop = StopOnce.atExit(() -> {
            server.stop();
            folder.delete(log);
        });
    }

    /** Creates, starts and checks a cluster; on any failure deletes what was made and throws. */
    static LocalCluster start(PostgresBinaries binaries, Consumer<String> log) {
        var account = ServerAccount.detect();
        var cluster = new LocalCluster(binaries, account, ClusterFolder.create(), PostgresSandbox.randomPassword(), log);
        return cluster.prepare(cluster::initdb);
    }

    /**
     * A hot standby of this cluster: a base backup ({@code pg_basebackup -R}) in a new folder, started on
     * a port of its own, streaming from this one. It has the same admin password and the same databases,
     * and takes read-only sessions; close it like any cluster (before or after this one).
     */
    public LocalCluster startStandby() {
        var standby = new LocalCluster(binaries, account, ClusterFolder.create(), password, log);
        return standby.prepare(() -> standby.baseBackupOf(this));
    }

    /** What fills a new cluster's data folder: initdb, or a base backup of another cluster. */
    @FunctionalInterface
    private interface DataFolderSetUp {
        void run() throws IOException;
    }

    /** Fills the data folder, starts the server and checks it; on any failure deletes what was made and throws. */
    private LocalCluster prepare(DataFolderSetUp setUp) {
        try {
            account.handOver(folder.path());
            setUp.run();
            server.start();
            version = queryVersion();
            return this;
        } catch (IOException e) {
            close();
            throw DatakitException.notReady("Cannot prepare the PostgreSQL sandbox in %s: %s"
                .formatted(folder, e.getMessage()), e);
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
        log.accept("Taking a base backup of %s:%d into %s for a hot standby.".formatted(HOST, primary.port(), folder));
        account.run(List.of(binaries.bin().resolve("pg_basebackup").toString(), "-D", folder.data().toString(),
                "-h", primary.folder.path().toString(), "-p", String.valueOf(primary.port()), "-U", ServerAccount.POSTGRES,
                "-R", "-X", "stream", "-c", "fast", "--no-sync"), folder.path(), INITDB_TIMEOUT)
            .orFail("Run that pg_basebackup by hand to see why.");
    }

    private void initdb() throws IOException {
        log.accept("Creating a PostgreSQL cluster in %s with %s (found via %s), run as %s."
            .formatted(folder, binaries.initdb(), binaries.origin(), account.describe()));
        // initdb reads the superuser's password from a file so it never shows in a process list.
        Path pwfile = folder.writeOwnerOnly("pwfile", password + "\n", account);
        try {
            account.run(List.of(binaries.initdb().toString(), "-D", folder.data().toString(),
                    "--username=" + ServerAccount.POSTGRES, "--pwfile=" + pwfile,
                    "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync"),
                folder.path(), INITDB_TIMEOUT)
                .orFail("Run that initdb by hand to see why, or set %s to another PostgreSQL install's bin folder."
                    .formatted(PostgresBinaries.BIN_VARIABLE));
        } finally {
            Files.deleteIfExists(pwfile);
        }
    }

    /**
     * Stops the server ({@code -m fast}: sessions are ended, as in a real restart) and starts it again on
     * the same port, with {@code settings} on top of the sandbox's own ({@code wal_level=replica},
     * {@code ssl=on}...). Clients see their connections end and new ones refused until it is back.
     */
    public void restart(List<String> settings) {
        server.restart(settings, "fast");
    }

    /**
     * Stops the server as a crash would ({@code -m immediate}: no shutdown checkpoint, walsenders do not
     * send what is left) and starts it again on the same port, which then runs crash recovery.
     */
    public void crashAndRestart() {
        server.restart(server.extraSettings(), "immediate");
    }

    /**
     * Writes a file the server can read (owner-only, owned by the server's account) into the cluster's
     * folder, such as a TLS key for {@code ssl_key_file}, and returns its path.
     */
    public Path writeServerFile(String name, String content) {
        try {
            return folder.writeOwnerOnly(name, content, account);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + folder.path().resolve(name), e);
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
                    HOST, port(), e.getMessage(), ExternalCommand.quoteFile("The server log", folder.serverLog()),
                    "Check that nothing else intercepts 127.0.0.1 connections, or set DATAKIT_SANDBOX=docker."), e);
        }
    }

    @Override
    public String host() {
        return HOST;
    }

    @Override
    public int port() {
        return server.port();
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
        return "local PostgreSQL %s from %s in %s".formatted(version, binaries.bin(), folder);
    }

    @Override
    public void close() {
        stop.now();
    }
}
