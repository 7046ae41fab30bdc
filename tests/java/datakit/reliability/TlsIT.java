package datakit.reliability;

import static datakit.testing.Datakits.assertFailsWithOneLine;
import static org.assertj.core.api.Assertions.assertThat;

import datakit.reliability.CertificateAuthority.ServerCertificate;
import datakit.sandbox.LocalCluster;
import datakit.sandbox.PostgresSandbox;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * postgres-extract reads a source that accepts TLS connections only, with sslmode=verify-full against a
 * private CA: it loads when the CA and the host name match the server's certificate, and otherwise
 * fails at once with one line naming the setting to check. The server is a private cluster, since
 * the shared test server must not be restarted with other settings; the warehouse is the shared one.
 */
class TlsIT {
    static final String ITEMS = "SELECT id::text, name FROM %s ORDER BY id";

    @TempDir
    static Path pki;
    static LocalCluster server;
    static CertificateAuthority ca;
    static CertificateAuthority otherCa;
    /** For the addresses the server listens on: what verify-full accepts. */
    static ServerCertificate forLoopback;
    /** Signed by the same CA, but for another host only: verify-full must refuse it when dialling 127.0.0.1. */
    static ServerCertificate forAnotherHost;
    static ServerCertificate served;
    static Path tlsOnlyHba;
    static TestDatabase source;
    static TestDatabase warehouse;

    @BeforeAll
    static void startAServerThatAcceptsOnlyTls() {
        ca = CertificateAuthority.create(pki.resolve("ca"), "Datakit test CA");
        otherCa = CertificateAuthority.create(pki.resolve("other-ca"), "Some other CA");
        forLoopback = ca.sign("loopback", "IP:127.0.0.1,DNS:localhost");
        forAnotherHost = ca.sign("db.example", "DNS:db.example");
        server = PostgresSandbox.startLocal(System.err::println);
        // No "host" line: a connection without TLS finds no entry and is refused, so every connection
        // that succeeds here used TLS.
        tlsOnlyHba = server.writeServerFile("pg_hba_tls_only.conf", "hostssl all all 127.0.0.1/32 scram-sha-256\n");
        serve(forLoopback);
        source = TestPostgres.createDatabase(server, "tls_src");
        source.execute("CREATE TABLE public.items (id int PRIMARY KEY, name text)",
            "INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 5) g");
        warehouse = TestPostgres.createDatabase("tls_wh");
    }

    @AfterAll
    static void stopTheServer() {
        if (server != null) {
            server.close();
        }
    }

    /** Each test starts with the certificate for 127.0.0.1 and localhost, whatever the one before served. */
    @BeforeEach
    void serveTheLoopbackCertificate() {
        serve(forLoopback);
    }

    /** Restarts the server with {@code certificate} (unless it serves it already) and the TLS-only pg_hba.conf. */
    static void serve(ServerCertificate certificate) {
        if (certificate.equals(served)) {
            return;
        }
        Path cert = server.writeServerFile("server.crt", certificate.certificatePem());
        Path key = server.writeServerFile("server.key", certificate.keyPem());
        server.restart(List.of("ssl=on", "ssl_cert_file=" + cert, "ssl_key_file=" + key, "hba_file=" + tlsOnlyHba));
        served = certificate;
    }

    /** postgres-extract of public.items into bronze.{@code target}, dialling {@code host}, with the given sslmode and root certificate. */
    static Datakits.Run extract(String host, String sslmode, Path rootCertificate, String target) {
        var env = new HashMap<>(Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url(),
            "SOURCE_PG_HOST", host, "SOURCE_PG_SSLMODE", sslmode));
        if (rootCertificate != null) {
            env.put("SOURCE_PG_SSLROOTCERT", rootCertificate.toString());
        }
        return Datakits.run("PostgresExtract", env, "--table", "public.items", "--target-table", target);
    }

    @Test
    void verifyFullWithTheServersCaLoadsTheRowsThroughTheIpAddressAndTheHostName() {
        var byAddress = extract("127.0.0.1", "verify-full", ca.certificate(), "items_by_address");
        var byName = extract("localhost", "verify-full", ca.certificate(), "items_by_name");

        assertThat(byAddress.exitCode()).as(byAddress.toString()).isZero();
        assertThat(byName.exitCode()).as(byName.toString()).isZero();
        assertThat(warehouse.rows(ITEMS.formatted("bronze.items_by_address"))).isEqualTo(source.rows(ITEMS.formatted("public.items")))
            .hasSize(5);
        assertThat(warehouse.rows(ITEMS.formatted("bronze.items_by_name"))).isEqualTo(source.rows(ITEMS.formatted("public.items")));
    }

    /** What makes the successful loads above proof of TLS: this server refuses every connection without it. */
    @Test
    void theServerRefusesAConnectionWithoutTls() {
        var plain = extract("127.0.0.1", "disable", null, "items_plain");

        assertFailsWithOneLine(plain, 2, "Cannot connect to the source", "no pg_hba.conf entry", "no encryption",
            "set sslmode (from SOURCE_PG_SSLMODE) to require, verify-ca or verify-full");
        assertThat(warehouse.value("SELECT to_regclass('bronze.items_plain') IS NULL")).isEqualTo("t");
    }

    @Test
    void aServerCertificateFromAnotherCaFailsAtOnceNamingTheRootCertificateSetting() {
        long started = System.nanoTime();
        var run = extract("127.0.0.1", "verify-full", otherCa.certificate(), "items_other_ca");
        assertThat((System.nanoTime() - started) / 1_000_000).as("not retried (3 retries wait 1 + 2 + 4 s)").isLessThan(5000);

        assertFailsWithOneLine(run, 2, "Cannot connect to the source", "certificate could not be verified",
            "sslrootcert (from SOURCE_PG_SSLROOTCERT)");
        assertThat(run.err()).as("no retries, no Java class names").doesNotContain("tried").doesNotContain("sun.security");
        assertThat(warehouse.value("SELECT to_regclass('bronze.items_other_ca') IS NULL")).isEqualTo("t");
    }

    @Test
    void aCertificateForAnotherHostFailsAtOnceNamingTheHostDialled() {
        serve(forAnotherHost);
        long started = System.nanoTime();
        var run = extract("127.0.0.1", "verify-full", ca.certificate(), "items_other_host");
        assertThat((System.nanoTime() - started) / 1_000_000).as("not retried (3 retries wait 1 + 2 + 4 s)").isLessThan(5000);

        assertFailsWithOneLine(run, 2, "Cannot connect to the source", "certificate is not valid for the host name 127.0.0.1",
            "host (from SOURCE_PG_HOST)");
        assertThat(run.err()).as("no retries, no Java class names").doesNotContain("tried").doesNotContain("PgjdbcHostnameVerifier");
        assertThat(warehouse.value("SELECT to_regclass('bronze.items_other_host') IS NULL")).isEqualTo("t");
    }
}
