package datakit.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.TestPostgres;
import org.junit.jupiter.api.Test;

/** The topology fixtures work: a hot standby replays what its primary commits, and PgBouncer passes logins through. */
class TopologySandboxIT {

    @Test
    void aStandbyReplaysThePrimaryAndPgBouncerPassesLoginsThrough() throws Exception {
        try (var primary = PostgresSandbox.startLocal(System.err::println);
             var standby = primary.startStandby();
             var bouncer = PgBouncer.start(primary, PgBouncer.PoolMode.TRANSACTION, 2)) {
            var db = TestPostgres.createDatabase(primary, "topo");
            db.execute("CREATE TABLE t AS SELECT 42 AS answer", "CREATE ROLE reader LOGIN PASSWORD 'reader-pw'",
                "GRANT SELECT ON t TO reader");
            var replica = new datakit.testing.TestDatabase(standby, db.name());
            long deadline = System.nanoTime() + 30_000_000_000L;
            String seen = null;
            while (System.nanoTime() < deadline) {
                try {
                    seen = replica.value("SELECT answer FROM t");
                    break;
                } catch (IllegalStateException notYet) {
                    Thread.sleep(100);
                }
            }
            assertThat(seen).isEqualTo("42");
            assertThat(replica.value("SELECT pg_is_in_recovery()")).isEqualTo("t");
            try (var c = java.sql.DriverManager.getConnection(bouncer.jdbcUrl(db.name()), "reader", "reader-pw");
                 var rs = c.createStatement().executeQuery("SELECT answer FROM t")) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(42);
            }
        }
    }
}
