package datakit.bronze;

import datakit.error.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.time.Duration;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;

/**
 * Swapping bronze tables under readers: statements that lock a bronze table wait a little longer than the server's
 * {@code deadlock_timeout} per try (1.1 s by default), and a replacement takes over the grants and comment of the table it
 * replaces.
 */
final class TableLocks {
    private static final Duration LOCK_WAIT = Duration.ofSeconds(60);

    private TableLocks() {
    }

    /**
     * Runs statements that lock {@code table}, waiting about a second for each try (deadlock_timeout and a tenth of a
     * second): a reader that arrives meanwhile queues behind us that long at most, not for a long wait. Tries again for up to a minute, then gives up
     * with nothing changed.
     */
    static void withShortLocks(DSLContext db, TableRef table, Runnable statements) {
        long deadline = System.nanoTime() + LOCK_WAIT.toNanos();
        // Each try outlasts deadlock_timeout: only a lock wait that reaches it cancels an autovacuum of the table (one that an
        // unfrozen load starts, for instance), which would otherwise hold the table until it ends.
        long tryMillis = db.resultQuery("SELECT (extract(epoch FROM current_setting('deadlock_timeout')::interval) * 1000)::bigint")
            .fetchOne(0, Long.class) + 100;
        for (int attempt = 1; ; attempt++) {
            db.execute("SAVEPOINT bronze_lock");
            db.execute("SET LOCAL lock_timeout = " + tryMillis);
            try {
                statements.run();
                db.execute("RELEASE SAVEPOINT bronze_lock");
                return;
            } catch (DataAccessException e) {
                if (!"55P03".equals(e.sqlState()) || System.nanoTime() > deadline) {
                    if ("55P03".equals(e.sqlState())) {
                        throw DatakitException.failed(("Waited %d s for other sessions to let go of %s (a long query "
                            + "or transaction holds it); nothing was changed. Run again when it is free.")
                            .formatted(LOCK_WAIT.toSeconds(), table), e);
                    }
                    throw e;
                }
                db.execute("ROLLBACK TO SAVEPOINT bronze_lock");
                pause(Math.min(1000, 100L * attempt));
            }
        }
    }

    /** Grants on {@code old} (other than its owner's) and its comment, given to {@code replacement} too. */
    static void copyGrantsAndComment(DSLContext db, BronzeTable old, TableRef replacement) {
        db.resultQuery("""
                SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
                       a.privilege_type, a.is_grantable
                FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
                WHERE c.oid = ?::oid AND a.grantee <> c.relowner""", old.oid())
            .forEach(g -> {
                String privilege = g.get(1, String.class);
                DatakitException.check(privilege.matches("[A-Z ]+"), "Unexpected privilege %s on %s.", privilege, old.ref());
                String grantee = g.get(0, String.class) == null ? "PUBLIC" : Sql.quote(g.get(0, String.class));
                db.execute("GRANT " + privilege + " ON TABLE " + replacement.sql() + " TO " + grantee
                    + (g.get(2, Boolean.class) ? " WITH GRANT OPTION" : ""));
            });
        String comment = db.resultQuery("SELECT pg_catalog.obj_description(?::oid, 'pg_class')", old.oid()).fetchOne(0, String.class);
        if (comment != null) {
            db.execute("COMMENT ON TABLE " + replacement.sql() + " IS " + Sql.literal(comment));
        }
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw DatakitException.failed("Interrupted while waiting for a lock on a bronze table.", e);
        }
    }
}
