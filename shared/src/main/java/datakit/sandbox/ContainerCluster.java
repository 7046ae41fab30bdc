package datakit.sandbox;

import datakit.error.DatakitException;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;

/**
 * A PostgreSQL server in a Docker container, started by Testcontainers from a pinned image so every
 * machine with Docker runs the same version. Testcontainers' reaper removes the container if the JVM
 * dies; a shutdown hook covers machines where the reaper is disabled.
 */
final class ContainerCluster implements PostgresServer {
    static final String IMAGE = "postgres:17.6";
    /** Long enough for a running engine to answer; short enough that a machine without one falls back at once. */
    private static final Duration DOCKER_PROBE_LIMIT = Duration.ofSeconds(5);

    private final PostgreSQLContainer container;
    private final String host;
    private final int port;
    private final StopOnce stop;

    private ContainerCluster(PostgreSQLContainer container) {
        this.container = container;
        this.host = container.getHost();
        this.port = container.getMappedPort(PostgreSQLContainer.POSTGRESQL_PORT);
        this.stop = StopOnce.atExit(container::stop);
    }

    /**
     * Whether a Docker engine answers within {@link #DOCKER_PROBE_LIMIT}. When {@code quiet}, Testcontainers'
     * report of every place it looked is hidden: on a machine without Docker that is expected, not an error.
     */
    static boolean dockerAnswers(boolean quiet, Consumer<String> log) {
        // slf4j-simple reads a logger's level when the logger is made, so this must precede Testcontainers' first use.
        defaultLogLevel("org.testcontainers", "warn");
        defaultLogLevel("tc", "warn"); // the per-image container loggers: "Creating container...", "Container started"
        if (quiet) {
            defaultLogLevel("org.testcontainers.dockerclient", "off");
        }
        var probe = new FutureTask<>(() -> DockerClientFactory.instance().isDockerAvailable());
        Thread.ofPlatform().daemon().name("datakit-docker-probe").start(probe);
        try {
            return probe.get(DOCKER_PROBE_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            log.accept("Docker did not answer within %d s.".formatted(DOCKER_PROBE_LIMIT.toSeconds()));
            return false;
        } catch (ExecutionException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Sets a logger's level unless the user already chose one (with -D on the command line). */
    private static void defaultLogLevel(String logger, String level) {
        String key = "org.slf4j.simpleLogger.log." + logger;
        if (System.getProperty(key) == null) {
            System.setProperty(key, level);
        }
    }

    /** Starts the container and waits until PostgreSQL accepts connections; pulls the image if needed. */
    @SuppressWarnings("resource") // the container is stopped by close()
    static ContainerCluster start(Consumer<String> log) {
        log.accept("Starting %s with Testcontainers (the first run pulls the image).".formatted(IMAGE));
        var container = new PostgreSQLContainer(IMAGE)
            .withUsername(ServerAccount.POSTGRES)
            .withPassword(PostgresSandbox.randomPassword())
            .withDatabaseName("postgres")
            .withCommand("postgres", "-c", "wal_level=logical", "-c", "max_wal_senders=10",
                "-c", "max_replication_slots=10", "-c", "fsync=off");
        try {
            container.start();
        } catch (RuntimeException e) {
            container.stop();
            throw DatakitException.notReady(("Could not start the sandbox container %s: %s. Check that Docker "
                + "can pull and run it (docker run --rm %s postgres --version), or set DATAKIT_SANDBOX=local to use local "
                + "PostgreSQL binaries.").formatted(IMAGE, rootMessage(e), IMAGE), e);
        }
        return new ContainerCluster(container);
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
    }

    @Override
    public String host() {
        return host;
    }

    @Override
    public int port() {
        return port;
    }

    @Override
    public String adminUser() {
        return container.getUsername();
    }

    @Override
    public String adminPassword() {
        return container.getPassword();
    }

    @Override
    public String description() {
        return "Testcontainers " + IMAGE;
    }

    @Override
    public void close() {
        stop.now();
    }
}
