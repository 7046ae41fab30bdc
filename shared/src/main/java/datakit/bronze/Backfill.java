package datakit.bronze;

import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.jooq.DSLContext;

/**
 * Gives the rows a table kept one per key already holds the source's values of columns it just gained (added, renamed to,
 * or a variant column), so the table equals the source without a reload: the source's keys and those columns stream into
 * a temporary table (binary COPY, constant memory), and each bronze row takes the values of its key. Whatever gave the
 * old rows their value at the source (ADD COLUMN ... DEFAULT, a rename, a volatile default that rewrote the table) is read
 * as it is. Runs inside the caller's warehouse transaction, the one that added the columns, so they never commit unfilled.
 */
public final class Backfill {
    private static final TableRef ROWS = TableRef.of("pg_temp", "_bronze_backfill");

    private final DSLContext db;
    private final TableRef target;
    private final Landing rows;
    private final List<String> key;
    private final Map<String, String> landsIn;

    /**
     * @param rows    the source's key columns and the columns to fill, read in the snapshot of the load
     * @param key     the key columns, by which bronze rows are matched
     * @param landsIn each column to fill, to the bronze column it lands in
     */
    public Backfill(DSLContext db, TableRef target, Landing rows, List<String> key, Map<String, String> landsIn) {
        this.db = db;
        this.target = target;
        this.rows = rows;
        this.key = List.copyOf(key);
        this.landsIn = Map.copyOf(landsIn);
    }

    /** Creates the temporary table and returns the COPY statement to stream the source's rows into. */
    public String prepare() {
        db.execute("CREATE TEMPORARY TABLE " + Sql.quote(ROWS.table()) + " (" + rows.definitions() + ") ON COMMIT DROP");
        return rows.copyInto(ROWS);
    }

    /** Fills the columns of every bronze row whose key the source has; returns how many rows it filled. */
    public int fill() {
        db.execute("ANALYZE " + ROWS.sql());
        String set = landsIn.entrySet().stream().map(c -> Sql.quote(c.getValue()) + " = s." + Sql.quote(c.getKey()))
            .collect(Collectors.joining(", "));
        String matches = key.stream().map(k -> "s." + Sql.quote(k) + " = b." + Sql.quote(k)).collect(Collectors.joining(" AND "));
        return db.execute("UPDATE " + target.sql() + " AS b SET " + set + " FROM " + ROWS.sql() + " AS s WHERE " + matches);
    }
}
