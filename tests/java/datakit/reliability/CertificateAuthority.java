package datakit.reliability;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway, self-signed certificate authority made with the {@code openssl} command line, and the
 * server certificates it signs: what an operator who runs PostgreSQL with a private CA has. P-256 keys,
 * valid for two days, made fresh for each test run.
 */
final class CertificateAuthority {
    private static final long OPENSSL_TIMEOUT_SECONDS = 60;

    private final Path dir;
    private final Path certificate;
    private final Path key;

    /** A server's certificate and private key, as the PEM text PostgreSQL's ssl_cert_file and ssl_key_file hold. */
    record ServerCertificate(String certificatePem, String keyPem) {
    }

    private CertificateAuthority(Path dir) {
        this.dir = dir;
        this.certificate = dir.resolve("ca.crt");
        this.key = dir.resolve("ca.key");
    }

    /** A new CA in {@code dir} (created), with {@code commonName} as its subject. */
    static CertificateAuthority create(Path dir, String commonName) {
        var ca = new CertificateAuthority(createDirectories(dir));
        ca.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", ca.key.toString(), "-out", ca.certificate.toString(), "-days", "2", "-subj", "/CN=" + commonName);
        return ca;
    }

    /** The CA's certificate file: what a client names in sslrootcert to trust the servers this CA signed. */
    Path certificate() {
        return certificate;
    }

    /**
     * A server certificate signed by this CA for {@code subjectAltName} ({@code IP:127.0.0.1,DNS:localhost}):
     * the names a client checks the host it dialled against under sslmode=verify-full.
     */
    ServerCertificate sign(String name, String subjectAltName) {
        Path serverKey = dir.resolve(name + ".key");
        Path request = dir.resolve(name + ".csr");
        Path serverCertificate = dir.resolve(name + ".crt");
        Path extensions = write(dir.resolve(name + ".ext"), """
            subjectAltName=%s
            basicConstraints=critical,CA:FALSE
            extendedKeyUsage=serverAuth
            """.formatted(subjectAltName));
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", serverKey.toString(), "-out", request.toString(), "-subj", "/CN=" + name);
        openssl("x509", "-req", "-in", request.toString(), "-CA", certificate.toString(), "-CAkey", key.toString(),
            "-CAcreateserial", "-days", "2", "-extfile", extensions.toString(), "-out", serverCertificate.toString());
        return new ServerCertificate(read(serverCertificate), read(serverKey));
    }

    /** Runs openssl in the CA's folder; fails, never skips, when it is missing or refuses. */
    private void openssl(String... args) {
        var command = new ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Process process;
        try {
            process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        } catch (IOException e) {
            throw new IllegalStateException("The TLS tests make their certificates with the openssl command, which cannot be run here ("
                + e.getMessage() + "). Install it (Debian/Ubuntu: apt install openssl) and put it on PATH.", e);
        }
        try {
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(OPENSSL_TIMEOUT_SECONDS, TimeUnit.SECONDS) || process.exitValue() != 0) {
                process.destroyForcibly();
                throw new IllegalStateException("openssl failed: " + String.join(" ", command) + "\n" + output);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running openssl", e);
        }
    }

    private static Path createDirectories(Path dir) {
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path write(Path file, String content) {
        try {
            return Files.writeString(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
