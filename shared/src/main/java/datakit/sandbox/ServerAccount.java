package datakit.sandbox;

import datakit.error.DatakitException;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The OS account that runs initdb, pg_ctl and the server. PostgreSQL refuses to run as root, so when
 * this JVM is root (CI containers, a fresh cloud machine) the programs run as the {@code postgres}
 * account through runuser (or su), and the sandbox's files are handed to that account.
 */
final class ServerAccount {
    static final String POSTGRES = "postgres";

    /** The other account's principal, or null when the programs run as this process's user. */
    private final UserPrincipal runAs;

    private ServerAccount(UserPrincipal runAs) {
        this.runAs = runAs;
    }

    /** This process's user, unless it is root: then the {@code postgres} account, which must exist. */
    static ServerAccount detect() {
        if (!isRoot()) {
            return new ServerAccount(null);
        }
        try {
            var users = FileSystems.getDefault().getUserPrincipalLookupService();
            return new ServerAccount(users.lookupPrincipalByName(POSTGRES));
        } catch (UserPrincipalNotFoundException e) {
            throw DatakitException.notReady("Cannot start a local PostgreSQL sandbox as root: PostgreSQL refuses "
                + "to run as root and there is no \"postgres\" OS account to run it as. Create one (useradd --system "
                + "--shell /bin/sh postgres) or run as an ordinary user.");
        } catch (IOException e) {
            throw DatakitException.notReady("Cannot look up the \"postgres\" OS account: " + e.getMessage(), e);
        }
    }

    private static boolean isRoot() {
        if ("root".equals(System.getProperty("user.name"))) {
            return true;
        }
        // A container may run as uid 0 under another name (or none); ask the OS when it can answer.
        if (ExternalCommand.onPath("id").isEmpty()) {
            return false;
        }
        var id = ExternalCommand.run(List.of("id", "-u"), null, Duration.ofSeconds(10));
        return id.succeeded() && id.output().strip().equals("0");
    }

    /** Who runs the programs, for messages: "postgres (this JVM runs as root)" or this user's name. */
    String describe() {
        return runAs == null ? System.getProperty("user.name") : runAs.getName() + " (this JVM runs as root)";
    }

    /** Runs the command as this account, in {@code workDir}, at most {@code timeout}. */
    ExternalCommand.Result run(List<String> command, Path workDir, Duration timeout) {
        String program = Path.of(command.getFirst()).getFileName().toString();
        return ExternalCommand.run(program, asAccount(command), workDir, timeout);
    }

    /** The command as this account runs it: wrapped in runuser (or su) when this JVM is root. */
    List<String> asAccount(List<String> command) {
        if (runAs == null) {
            return command;
        }
        Optional<Path> runuser = ExternalCommand.onPath("runuser")
            .or(() -> Optional.of(Path.of("/usr/sbin/runuser")).filter(Files::isExecutable))
            .or(() -> Optional.of(Path.of("/sbin/runuser")).filter(Files::isExecutable));
        if (runuser.isPresent()) {
            var wrapped = new ArrayList<>(List.of(runuser.get().toString(), "-u", runAs.getName(), "--"));
            wrapped.addAll(command);
            return wrapped;
        }
        // su takes one shell command line, so every argument is quoted for /bin/sh.
        String line = command.stream().map(ExternalCommand::shellQuote).collect(Collectors.joining(" "));
        return List.of("su", runAs.getName(), "-s", "/bin/sh", "-c", line);
    }

    /**
     * Makes the sandbox folder this account's, after checking that the account can reach it: every parent
     * must be searchable by others, as /tmp is.
     */
    void handOver(Path dir) throws IOException {
        if (runAs == null) {
            return;
        }
        for (Path parent = dir.toAbsolutePath().getParent(); parent != null; parent = parent.getParent()) {
            if (!Files.getPosixFilePermissions(parent).contains(PosixFilePermission.OTHERS_EXECUTE)) {
                throw DatakitException.notReady(("Cannot start a local PostgreSQL sandbox in %s: the \"%s\" "
                    + "account cannot enter %s. Point java.io.tmpdir at a folder it can reach (-Djava.io.tmpdir=/tmp).")
                    .formatted(dir, runAs.getName(), parent));
            }
        }
        own(dir);
    }

    /** Makes a file inside the sandbox folder this account's. */
    void own(Path path) throws IOException {
        if (runAs != null) {
            Files.setOwner(path, runAs);
        }
    }
}
