package datakit.cdc;

import datakit.bronze.Backfill;
import datakit.bronze.BronzeTable;
import datakit.bronze.SchemaPolicy;
import datakit.db.Database;
import datakit.db.Retry;
import datakit.report.RunContext;
import datakit.source.SchemaFingerprint;
import datakit.source.Selection;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import datakit.wal.Lsn;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.jooq.DSLContext;

/**
 * Keeps {@code --apply} tables equal to the source through DDL that changes values without writing rows, of which logical
 * replication sends nothing: an enum label renamed, a column dropped and added again under its name and type with a
 * DEFAULT, {@code ALTER COLUMN ... TYPE ... USING}. As the batch modes do: the stream's checkpoint keeps, per table, the hash
 * of what decides each column's values ({@link SchemaFingerprint}; state {@code tables -> <oid> -> columns}), and a hash
 * that changed gives every row of the --apply table the source's values of that column ({@link Backfill}, by the apply
 * key, where the rule lands the column's values: {@link TableShape}), in the transaction that stores the new hashes.
 *
 * <p>When matters. The stream replays each change with the values it carried: a change made before the DDL (an update
 * that wrote the label about to be renamed) applied after a refresh would bring the old value back. So the hashes are read
 * first, and the refresh comes once every change made before the DDL they reflect is applied: a bounded run reads them
 * before it fixes where it ends (it takes every change committed before it starts) and refreshes at its end; a
 * {@code --follow} run reads them every few seconds with the source's WAL position, and refreshes at the first commit
 * of its checkpoint past that position. The values are read then, in a snapshot of their own, later than the hashes:
 * that is no harm. A change made in between carries the values the source had then, which its replay sets again; DDL
 * made in between changes hashes the next reading finds, so it is refreshed again then. That is why the hashes stored are
 * those read before the changes were applied, never those of the later snapshot.
 *
 * <p>A table without a key cannot be given values by key: the run says which columns are stale there. A checkpoint
 * written before hashes were kept has none to compare: the first run takes them and says what it cannot find.
 */
final class ValueRefresh {
    /** How often a --follow run reads the hashes again. */
    private static final long FOLLOW_READ_NANOS = TimeUnit.SECONDS.toNanos(5);
    static final String WITHOUT_WRITES = "changed at the source without rows being written (an enum label renamed, a column "
        + "dropped and added again, a type changed)";

    /** An --apply table: its source table's oid, its bronze table, and whether it held rows with no hashes kept for them. */
    private record Kept(long oid, TableRef state, boolean heldWithoutHashes) {
    }

    /**
     * The hashes of the kept tables' columns at one moment of the source, by oid, and where the source's WAL ended then:
     * every DDL they reflect committed before it.
     */
    private record Reading(Map<Long, Map<String, String>> columns, Lsn before) {
    }

    private final RunContext run;
    private final Database source;
    private final ApplySource catalog;
    private final String stream;
    private final SchemaPolicy policy;
    private final SlotCheckpoint checkpoints;
    private List<Kept> kept = List.of();
    /** The hashes the checkpoint holds: read once, as this run holds the stream and alone writes them. */
    private Map<Long, Map<String, String>> stored = Map.of();
    private Reading pending;
    private long readAt;
    private final Said said = new Said();

    /** What the refreshes said, for the run's details and summary. */
    static final class Said {
        final Map<String, Object> changed = new LinkedHashMap<>();
        final Map<String, Object> backfilled = new LinkedHashMap<>();
        final Map<String, Object> baseline = new LinkedHashMap<>();
        final List<String> warnings = new ArrayList<>();
        final List<Recorded> recorded = new ArrayList<>();

        void add(Said more) {
            changed.putAll(more.changed);
            backfilled.putAll(more.backfilled);
            baseline.putAll(more.baseline);
            warnings.addAll(more.warnings);
            recorded.addAll(more.recorded);
        }
    }

    private ValueRefresh(RunContext run, Database source, ApplySource catalog, String bronzeSchema, String stream, SchemaPolicy policy) {
        this.run = run;
        this.source = source;
        this.catalog = catalog;
        this.stream = stream;
        this.policy = policy;
        this.checkpoints = new SlotCheckpoint(bronzeSchema);
    }

    /** Finds the stream's --apply tables and reads their hashes: before a bounded run fixes where it ends. */
    static ValueRefresh start(RunContext run, Database source, ApplySource catalog, Database warehouse, String bronzeSchema, String stream,
                              SchemaPolicy policy) throws SQLException {
        var refresh = new ValueRefresh(run, source, catalog, bronzeSchema, stream, policy);
        warehouse.inTransaction(connection -> {
            refresh.find(connection, bronzeSchema);
            return null;
        });
        refresh.read();
        return refresh;
    }

    /**
     * For the dry run: the columns of each --apply table whose values a run would refresh now, by bronze table (those whose
     * hashes changed since the checkpoint's).
     */
    static Map<String, List<String>> planned(RunContext run, Database source, ApplySource catalog, Database warehouse, String bronzeSchema,
                                             String stream) throws SQLException {
        ValueRefresh refresh = start(run, source, catalog, warehouse, bronzeSchema, stream, SchemaPolicy.EVOLVE);
        var planned = new LinkedHashMap<String, List<String>>();
        refresh.kept.forEach(table -> {
            List<String> changed = refresh.changed(table, !catalog.rowKey(table.oid()).isEmpty());
            if (!changed.isEmpty()) {
                planned.put(table.state().toString(), changed);
            }
        });
        return planned;
    }

    private void find(Connection connection, String bronzeSchema) {
        if (!checkpoints.exists(connection)) {
            return;
        }
        stored = checkpoints.columnHashes(connection, stream);
        DSLContext db = Sql.using(connection);
        var found = new ArrayList<Kept>();
        checkpoints.followedTables(connection, stream).forEach((oid, followed) -> {
            TableRef state = TableRef.of(bronzeSchema, followed.bronze());
            if (BronzeTable.inspect(db, state).isPresent()) {
                found.add(new Kept(oid, state, !stored.containsKey(oid)
                    && db.resultQuery("SELECT EXISTS (SELECT FROM " + state.sql() + ")").fetchOne(0, Boolean.class)));
            }
        });
        kept = found;
    }

    /** Reads the kept tables' hashes now, in a snapshot of the source, with its WAL position. */
    private void read() {
        readAt = System.nanoTime();
        if (kept.isEmpty()) {
            return;
        }
        Map<Long, TableRef> names = catalog.tablesNamed(kept.stream().map(Kept::oid).toList());
        var columns = new LinkedHashMap<Long, Map<String, String>>();
        Lsn before = onSource(session -> {
            for (Kept table : kept) {
                TableRef name = names.get(table.oid());
                // None when the table is gone, or was renamed since its name was read: the next reading finds it.
                Map<String, String> hashes = name == null ? Map.of() : SchemaFingerprint.read(session, Selection.table(name)).columns();
                if (!hashes.isEmpty()) {
                    columns.put(table.oid(), hashes);
                }
            }
            // After the snapshot was taken, so past every commit it shows; as a walsender reports it, so a quiet stream gets there.
            return catalog.walEnd();
        });
        pending = new Reading(columns, before);
    }

    /** --follow: reads the hashes again when none wait and a few seconds have passed. */
    void readWhenDue() {
        if (pending == null && System.nanoTime() - readAt >= FOLLOW_READ_NANOS) {
            read();
        }
    }

    /** Whether the hashes read have something to store or refresh (the end of a bounded run). */
    boolean hasWork() {
        if (pending != null && kept.stream().noneMatch(this::toStore)) {
            pending = null;
        }
        return pending != null;
    }

    /** --follow: whether the hashes read have work and the stream's checkpoint has passed where they were read. */
    boolean dueAt(Lsn checkpoint) {
        return pending != null && !checkpoint.isBefore(pending.before()) && hasWork();
    }

    /** Whether the reading has hashes of {@code table} that the checkpoint does not hold yet. */
    private boolean toStore(Kept table) {
        Map<String, String> merged = merged(table);
        return !merged.isEmpty() && !merged.equals(stored.get(table.oid()));
    }

    /**
     * The hashes a table's reading and the stored ones make together: each column's last hash, that of a column dropped
     * since included, so a column added again in a later run is found changed (it has a new number).
     */
    private Map<String, String> merged(Kept table) {
        var merged = new LinkedHashMap<>(stored.getOrDefault(table.oid(), Map.of()));
        merged.putAll(pending.columns().getOrDefault(table.oid(), Map.of()));
        return merged;
    }

    /**
     * The columns the reading finds changed since the stored hashes, and those they do not hold (a column added, renamed to,
     * or back): rows no change touched get the source's values of them too, whatever gave those values (a DEFAULT, stored
     * on a partition only; rows written while --on-schema-change freeze left the column out) where rows are {@code keyed}
     * (a table without a key has its added columns' values from the catalog, StateApply). None for a table without stored
     * hashes.
     */
    private List<String> changed(Kept table, boolean keyed) {
        Map<String, String> before = stored.getOrDefault(table.oid(), Map.of());
        return before.isEmpty() ? List.of() : pending.columns().getOrDefault(table.oid(), Map.of()).entrySet().stream()
            .filter(c -> keyed ? !c.getValue().equals(before.get(c.getKey()))
                : before.containsKey(c.getKey()) && !before.get(c.getKey()).equals(c.getValue()))
            .map(Map.Entry::getKey).toList();
    }

    /**
     * In the caller's warehouse transaction, once every change before the reading is applied: gives the --apply tables the
     * source's values of the columns whose hashes changed, and stores the hashes read.
     */
    void refresh(Connection transaction) {
        var now = new Said();
        Map<Long, TableRef> names = catalog.tablesNamed(List.copyOf(pending.columns().keySet()));
        var toRefresh = new LinkedHashMap<Kept, List<String>>();
        for (Kept table : kept) {
            TableRef name = names.get(table.oid());
            if (name == null || !pending.columns().containsKey(table.oid())) {
                continue;
            }
            if (!stored.containsKey(table.oid()) && table.heldWithoutHashes()) {
                String said = ("the stream's checkpoint keeps no fingerprint of the columns of %s yet (it was written before checkpoints kept "
                    + "them): values DDL changed without writing rows before this run (an enum label renamed, a column dropped and added "
                    + "again with a DEFAULT) cannot be found; this run takes the fingerprint, and --snapshot always reloads the table if "
                    + "there were such changes").formatted(name);
                now.baseline.put(table.state().toString(), said);
                now.warnings.add(table.state() + ": " + said);
            }
            Set<String> held = BronzeTable.inspect(Sql.using(transaction), table.state()).map(t -> t.columns().keySet()).orElse(Set.of());
            List<String> changed = changed(table, !catalog.rowKey(table.oid()).isEmpty()).stream().filter(held::contains).toList();
            if (!changed.isEmpty()) {
                toRefresh.put(table, changed);
            }
        }
        if (!toRefresh.isEmpty()) {
            onSource(session -> {
                toRefresh.forEach((table, columns) -> new ValueBackfill(run, transaction, session, table.state(), names.get(table.oid()), now)
                    .refresh(columns, catalog.rowKey(table.oid()), policy));
                return null;
            });
        }
        var storing = new LinkedHashMap<Long, Map<String, String>>(stored);
        for (Kept table : kept) {
            if (toStore(table)) {
                // Only the columns the --apply table has: one --on-schema-change freeze left out is new to a later run that takes it.
                var hashes = new LinkedHashMap<>(merged(table));
                Set<String> held = BronzeTable.inspect(Sql.using(transaction), table.state()).map(t -> t.columns().keySet()).orElse(Set.of());
                hashes.keySet().retainAll(held);
                checkpoints.saveColumnHashes(transaction, stream, table.oid(), hashes);
                storing.put(table.oid(), hashes);
            }
        }
        stored = storing;
        pending = null;
        said.add(now);
    }

    /** A reading or refresh on the source, in a snapshot of its own; a lost connection is the stream's to take up again. */
    private <T> T onSource(Function<SourceSession, T> work) {
        try (SourceSession session = SourceSession.begin(source)) {
            return work.apply(session);
        } catch (StreamSource.Lost lost) {
            throw lost;
        } catch (RuntimeException e) {
            throw Retry.isTransient(e) ? new StreamSource.Lost(e) : e;
        }
    }

    /** The schema changes the refreshes made (a column widened, a variant column added), for the run to say. */
    List<Recorded> recorded() {
        return said.recorded;
    }

    /** What the run could not keep exact, in words. */
    List<String> warnings() {
        return said.warnings;
    }

    /** Adds what the refreshes did to the run's details. */
    void addTo(Map<String, Object> details) {
        if (!said.baseline.isEmpty()) {
            details.put("schema_baseline", said.baseline);
        }
        if (!said.changed.isEmpty()) {
            details.put("values_changed_without_writes", said.changed);
        }
        if (!said.backfilled.isEmpty()) {
            details.put("backfilled", said.backfilled);
        }
    }
}
