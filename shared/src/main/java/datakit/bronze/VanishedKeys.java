package datakit.bronze;

import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.stream.Collectors;
import org.jooq.DSLContext;

/**
 * Finds rows deleted at the source without reloading anything: the source's keys stream into a
 * temporary table (binary COPY, constant memory), and bronze rows whose key is no longer among them get
 * {@code _bronze_deleted_at}. Keys are compared for equality only, so the two servers' collations do not
 * matter. Runs inside the caller's warehouse transaction.
 */
public final class VanishedKeys {
    private static final TableRef KEYS = TableRef.of("pg_temp", "_bronze_source_keys");

    private final DSLContext db;
    private final TableRef target;
    private final Landing keys;

    /** @param keys the source's key columns, read in the same snapshot as the rows loaded */
    public VanishedKeys(DSLContext db, TableRef target, Landing keys) {
        this.db = db;
        this.target = target;
        this.keys = keys;
    }

    /** Creates the temporary key table and returns the COPY statement to stream the keys into. */
    public String prepare() {
        db.execute("CREATE TEMPORARY TABLE " + Sql.quote(KEYS.table()) + " (" + keys.definitions() + ") ON COMMIT DROP");
        return keys.copyInto(KEYS);
    }

    /** How many bronze rows were marked deleted, and how many lost their mark because their key came back. */
    public record Marks(int deleted, int returned) {
    }

    /** Marks the bronze rows whose key the source no longer has, and unmarks those whose key is there again. */
    public Marks mark() {
        db.execute("ANALYZE " + KEYS.sql());
        String matches = keys.columns().stream()
            .map(c -> "s." + Sql.quote(c.name()) + " = b." + Sql.quote(c.name()))
            .collect(Collectors.joining(" AND "));
        String deletedAt = Sql.quote(BronzeMetadata.DELETED_AT.name());
        String present = "EXISTS (SELECT 1 FROM " + KEYS.sql() + " AS s WHERE " + matches + ")";
        int deleted = db.execute("UPDATE " + target.sql() + " AS b SET " + deletedAt + " = now() WHERE b." + deletedAt
            + " IS NULL AND NOT " + present);
        int returned = db.execute("UPDATE " + target.sql() + " AS b SET " + deletedAt + " = NULL WHERE b." + deletedAt
            + " IS NOT NULL AND " + present);
        return new Marks(deleted, returned);
    }
}
