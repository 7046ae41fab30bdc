package datakit.bronze;

import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
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
    private final List<String> clears;
    private boolean analyzed;

    /**
     * @param rows    the source's key columns and the columns to fill, read in the snapshot of the load
     * @param key     the key columns, by which bronze rows are matched
     * @param landsIn each column to fill, to the bronze column it lands in
     */
    public Backfill(DSLContext db, TableRef target, Landing rows, List<String> key, Map<String, String> landsIn) {
        this(db, target, rows, key, landsIn, List.of());
    }

    /**
     * As {@link #Backfill(DSLContext, TableRef, Landing, List, Map)}, setting NULL in the rows it fills the bronze columns
     * {@code clears}: those that held the filled columns' values before (the old column of a variant column), so a value is
     * in one of them only, as a merge leaves it.
     */
    public Backfill(DSLContext db, TableRef target, Landing rows, List<String> key, Map<String, String> landsIn, List<String> clears) {
        this.db = db;
        this.target = target;
        this.rows = rows;
        this.key = List.copyOf(key);
        this.landsIn = Map.copyOf(landsIn);
        this.clears = List.copyOf(clears);
    }

    /** Creates the temporary table and returns the COPY statement to stream the source's rows into. */
    public String prepare() {
        db.execute("CREATE TEMPORARY TABLE " + Sql.quote(ROWS.table()) + " (" + rows.definitions() + ") ON COMMIT DROP");
        return rows.copyInto(ROWS);
    }

    /**
     * How many bronze rows have a key none of the source's rows has: their key values changed at the source (or the rows are
     * gone). Call it after the rows are copied, before {@link #fill()}.
     */
    public long unmatched() {
        analyze();
        return db.resultQuery("SELECT count(*) FROM " + target.sql() + " AS b WHERE NOT EXISTS (SELECT FROM " + ROWS.sql() + " AS s WHERE "
            + matches() + ")").fetchOne(0, Long.class);
    }

    /**
     * Fills the columns of every bronze row whose key the source has; returns how many rows it filled. The temporary table
     * is dropped then, so the same transaction may fill another table.
     */
    public int fill() {
        analyze();
        String set = Stream.concat(landsIn.entrySet().stream().map(c -> Sql.quote(c.getValue()) + " = s." + Sql.quote(c.getKey())),
            clears.stream().map(c -> Sql.quote(c) + " = NULL")).collect(Collectors.joining(", "));
        int filled = set.isEmpty() ? 0
            : db.execute("UPDATE " + target.sql() + " AS b SET " + set + " FROM " + ROWS.sql() + " AS s WHERE " + matches());
        db.execute("DROP TABLE " + ROWS.sql());
        return filled;
    }

    private void analyze() {
        if (!analyzed) {
            db.execute("ANALYZE " + ROWS.sql());
            analyzed = true;
        }
    }

    private String matches() {
        return key.stream().map(k -> "s." + Sql.quote(k) + " = b." + Sql.quote(k)).collect(Collectors.joining(" AND "));
    }
}
