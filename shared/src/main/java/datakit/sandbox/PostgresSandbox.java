package datakit.sandbox;

import datakit.error.DatakitException;
import datakit.error.ExitCode;
import java.security.SecureRandom;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Starts a throwaway PostgreSQL server for the demo command and the integration tests: a Testcontainers
 * container when a Docker engine answers (the same pinned version on every machine), else a cluster
 * made with the machine's own PostgreSQL binaries (a laptop or CI runner without Docker).
 * {@code DATAKIT_SANDBOX=local} or {@code docker} forces the choice.
 */
public final class PostgresSandbox {
    static final String CHOICE_VARIABLE = "DATAKIT_SANDBOX";
    private static final String INSTALL_POSTGRES = "the PostgreSQL server (Debian/Ubuntu: apt install postgresql; "
        + "RHEL/Fedora: dnf install postgresql-server; macOS: brew install postgresql@17), or set "
        + PostgresBinaries.BIN_VARIABLE + " to its bin folder";
    /** URL-safe, so the password needs no escaping in a connection URL or a shell. */
    private static final char[] PASSWORD_CHARS =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    private PostgresSandbox() {
    }

    /**
     * Starts a server: Testcontainers when a Docker engine answers, else local PostgreSQL binaries.
     * Progress lines go to {@code log}. Close the server to stop it and delete its data.
     *
     * @throws DatakitException with {@link ExitCode#NOT_READY}, naming what to install, when neither is available
     */
    public static PostgresServer start(Consumer<String> log) {
        return start(System.getenv(), log);
    }

    static PostgresServer start(Map<String, String> env, Consumer<String> log) {
        long startedNanos = System.nanoTime();
        String choice = env.getOrDefault(CHOICE_VARIABLE, "").strip().toLowerCase(Locale.ROOT);
        PostgresServer server = switch (choice) {
            case "" -> startEither(env, log);
            case "local" -> startLocal(env, log, CHOICE_VARIABLE + " is local, but no", "Install " + INSTALL_POSTGRES);
            case "docker" -> startDocker(log);
            default -> throw DatakitException.badInput("%s is \"%s\" but must be local or docker, or unset to use Docker "
                + "when it runs and local PostgreSQL binaries otherwise.", CHOICE_VARIABLE, choice);
        };
        double seconds = (System.nanoTime() - startedNanos) / 1e9;
        log.accept("Sandbox PostgreSQL ready in %.1f s: %s.".formatted(seconds, server.description()));
        return server;
    }

    private static PostgresServer startEither(Map<String, String> env, Consumer<String> log) {
        if (ContainerCluster.dockerAnswers(true, log)) {
            return ContainerCluster.start(log);
        }
        log.accept("No Docker engine answered; using local PostgreSQL binaries.");
        return startLocal(env, log, "Cannot start a sandbox PostgreSQL server: no Docker engine answered and no",
            "Install Docker, or " + INSTALL_POSTGRES);
    }

    /**
     * A cluster made with this machine's PostgreSQL binaries, whatever Docker does: for tests that
     * restart their server or start it with other settings ({@link LocalCluster#restart}).
     */
    public static LocalCluster startLocal(Consumer<String> log) {
        return startLocal(System.getenv(), log, "No", "Install " + INSTALL_POSTGRES);
    }

    private static LocalCluster startLocal(Map<String, String> env, Consumer<String> log, String why, String whatToDo) {
        var binaries = PostgresBinaries.find(env).orElseThrow(() -> DatakitException.notReady("%s PostgreSQL server programs (initdb, pg_ctl, postgres) were found in %s. %s."
                .formatted(why, PostgresBinaries.SEARCHED, whatToDo)));
        return LocalCluster.start(binaries, log);
    }

    private static PostgresServer startDocker(Consumer<String> log) {
        if (!ContainerCluster.dockerAnswers(false, log)) {
            throw DatakitException.notReady(("%s is docker, but no Docker engine answered (Testcontainers' "
                + "messages above say where it looked). Start Docker or set DOCKER_HOST, or unset %s to use local "
                + "PostgreSQL binaries instead.").formatted(CHOICE_VARIABLE, CHOICE_VARIABLE));
        }
        return ContainerCluster.start(log);
    }

    /** A random 24-character password (144 bits) for a server's admin user. */
    static String randomPassword() {
        var password = new StringBuilder(24);
        for (int i = 0; i < 24; i++) {
            password.append(PASSWORD_CHARS[RANDOM.nextInt(PASSWORD_CHARS.length)]);
        }
        return password.toString();
    }
}
