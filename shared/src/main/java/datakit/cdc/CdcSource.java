package datakit.cdc;

import datakit.cli.DatakitException;
import datakit.cli.ExitCode;
import datakit.config.ConnectionSettings;
import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.jooq.DSLContext;
import org.jooq.Record;

/**
 * The source's side of change data capture, on a connection of its own: the checks that must pass
 * before anything is created (logical {@code wal_level}, the REPLICATION privilege, a key for every
 * table), the publication, and what the server says about the slot. It is the one source connection
 * of the datakits that may write: a publication and a slot are catalog objects of the source. The
 * rows of the source are only ever read.
 */
public final class CdcSource implements AutoCloseable {
    private final Connection connection;
    private final DSLContext db;
    private final String where;

    private CdcSource(Connection connection, String where) {
        this.connection = connection;
        this.db = Sql.using(connection);
        this.where = where;
    }

    public static CdcSource open(ConnectionSettings settings) {
        try {
            return new CdcSource(Database.connectOnce(settings, Database.Access.READ_WRITE), settings.describe());
        } catch (SQLException e) {
            throw SqlErrors.connectFailure(settings, e, 1);
        }
    }

    /** A replication slot as {@code pg_replication_slots} shows it. */
    public record Slot(String name, String plugin, String database, boolean active, Optional<Integer> activePid,
                       Optional<String> confirmedFlush, long lagBytes, long retainedBytes, String walStatus) {
    }

    /** Fails with what to do when the server cannot stream changes to this user. */
    public void checkReady() {
        String walLevel = db.resultQuery("SELECT current_setting('wal_level')").fetchOne(0, String.class);
        DatakitException.check(walLevel.equals("logical"), "The source %s has wal_level = %s, and change data capture needs logical. "
            + "Set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart the server.", where, walLevel);
        Record role = db.resultQuery("SELECT rolname, rolreplication OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").fetchOne();
        DatakitException.check(role.get(1, Boolean.class), "The source user %s lacks the REPLICATION privilege, which a replication "
            + "connection needs. Grant it: ALTER ROLE %s WITH REPLICATION.", role.get(0, String.class), Sql.quote(role.get(0, String.class)));
    }

    /**
     * Fails unless every table can key its updates and deletes: a primary key, or a replica identity
     * (USING INDEX, FULL). A table with neither has its deletes and updates refused by the server itself
     * once it is published.
     */
    public void checkKeys(List<TableRef> tables) {
        for (TableRef table : tables) {
            Record r = db.resultQuery("""
                SELECT c.relreplident::text, c.relkind::text,
                       EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident))
                FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ? AND c.relname = ?""", table.schema(), table.table()).fetchOne();
            if (r == null) {
                throw DatakitException.badInput("Table %s does not exist on the source %s. Check --table.", table, where);
            }
            DatakitException.check("rp".contains(r.get(1, String.class)), "%s on the source is not a table; only tables have changes "
                + "to capture. Check --table.", table);
            String identity = r.get(0, String.class);
            boolean keyed = identity.equals("f") || (!identity.equals("n") && r.get(2, Boolean.class));
            DatakitException.check(keyed, "%s has no primary key and no replica identity, so its updates and deletes cannot be keyed. "
                + "Add a primary key, or run ALTER TABLE %s REPLICA IDENTITY FULL (or USING INDEX a unique index).", table, table.sql());
        }
    }

    /**
     * Creates the publication when missing, for {@code tables} or, when none are given, for all tables;
     * adds given tables an existing publication lacks. Returns the tables it publishes.
     */
    public List<TableRef> ensurePublication(String name, List<TableRef> tables) {
        boolean exists = db.resultQuery("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ?)", name)
            .fetchOne(0, Boolean.class);
        try {
            if (!exists) {
                db.execute("CREATE PUBLICATION " + Sql.quote(name) + (tables.isEmpty() ? " FOR ALL TABLES" : " FOR TABLE " + list(tables)));
            } else {
                List<TableRef> missing = tables.stream().filter(t -> !published(name).contains(t)).toList();
                if (!missing.isEmpty()) {
                    db.execute("ALTER PUBLICATION " + Sql.quote(name) + " ADD TABLE " + list(missing));
                }
            }
        } catch (RuntimeException e) {
            if ("42501".equals(SqlErrors.sqlState(e))) {
                throw DatakitException.badInput("The source user may not %s publication %s: %s. Create it as the tables' owner (or a "
                    + "superuser for all tables) and pass it with --publication.", exists ? "change" : "create", name, SqlErrors.serverMessage(e));
            }
            throw e;
        }
        return published(name);
    }

    /** The tables a publication publishes, in name order. */
    public List<TableRef> published(String publication) {
        return db.resultQuery("SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = ? ORDER BY 1, 2", publication)
            .fetch(r -> TableRef.of(r.get(0, String.class), r.get(1, String.class)));
    }

    /**
     * The columns that identify a row of {@code table}, for keeping a copy of it by key: those of the
     * replica identity index under REPLICA IDENTITY USING INDEX (what updates and deletes send as the old
     * key), else the primary key; empty when there is none (REPLICA IDENTITY FULL without a primary key).
     */
    public List<String> rowKey(TableRef table) {
        return db.resultQuery("""
                SELECT a.attname::text FROM pg_catalog.pg_index i
                JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
                JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                WHERE n.nspname = ? AND c.relname = ? AND i.indexrelid = (
                    SELECT i2.indexrelid FROM pg_catalog.pg_index i2
                    WHERE i2.indrelid = c.oid AND CASE c.relreplident WHEN 'i' THEN i2.indisreplident ELSE i2.indisprimary END LIMIT 1)
                ORDER BY k.position""", table.schema(), table.table()).fetch(0, String.class);
    }

    /** Every ordinary table of the database outside the system schemas: what a publication FOR ALL TABLES publishes. */
    public List<TableRef> allTables() {
        return db.resultQuery("""
                SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
                ORDER BY 1, 2""").fetch(r -> TableRef.of(r.get(0, String.class), r.get(1, String.class)));
    }

    public boolean publicationExists(String publication) {
        return db.resultQuery("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ?)", publication).fetchOne(0, Boolean.class);
    }

    public Optional<Slot> slot(String name) {
        return db.resultQuery("""
                SELECT s.slot_name::text, s.plugin::text, s.database::text, s.active, s.active_pid, s.confirmed_flush_lsn::text,
                       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.confirmed_flush_lsn), 0)::bigint,
                       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn), 0)::bigint,
                       coalesce(to_jsonb(s) ->> 'wal_status', '')
                FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = ?""", name)
            .fetchOptional(r -> new Slot(r.get(0, String.class), r.get(1, String.class), r.get(2, String.class), r.get(3, Boolean.class),
                Optional.ofNullable(r.get(4, Integer.class)), Optional.ofNullable(r.get(5, String.class)), r.get(6, Long.class),
                r.get(7, Long.class), r.get(8, String.class)));
    }

    /** Fails when the slot cannot be ours to stream from: another plugin or database, or another process using it. */
    public void checkSlotUsable(Slot slot) {
        String database = db.resultQuery("SELECT current_database()").fetchOne(0, String.class);
        DatakitException.check("pgoutput".equals(slot.plugin()) && database.equals(slot.database()), "Replication slot %s exists with "
            + "plugin %s in database %s; this datakit needs a pgoutput slot in %s. Give another --slot.", slot.name(), slot.plugin(),
            slot.database(), database);
        if (slot.active()) {
            throw new DatakitException(ExitCode.BAD_INPUT, "Replication slot %s is in use by another process (pid %s). Stop that process, "
                .formatted(slot.name(), slot.activePid().map(String::valueOf).orElse("unknown"))
                + "or give this stream its own --slot: a slot serves one reader at a time.");
        }
    }

    public void dropSlot(String name) {
        db.resultQuery("SELECT pg_catalog.pg_drop_replication_slot(?)", name).fetch();
    }

    /** server_version_num: 150004 for 15.4. */
    public int serverVersion() {
        return Integer.parseInt(db.resultQuery("SELECT current_setting('server_version_num')").fetchOne(0, String.class));
    }

    /**
     * Where the WAL written so far ends: every transaction committed so far ends at or before it, and a
     * walsender that has read everything reports at least it (see {@link WalEnd}).
     */
    public long walEnd() {
        Record r = db.resultQuery("SELECT pg_catalog.pg_current_wal_insert_lsn() - '0/0', current_setting('wal_block_size')::int, "
            + "(SELECT setting::bigint FROM pg_catalog.pg_settings WHERE name = 'wal_segment_size')").fetchOne();
        return WalEnd.ofInsertPosition(r.get(0, Long.class), r.get(1, Integer.class), r.get(2, Long.class));
    }

    /**
     * Writes a logical message into the source's WAL (not into any table): WAL in the slot's own database
     * for the stream to read past. Any role may, as EXECUTE on pg_logical_emit_message is granted to PUBLIC,
     * even in a read-only transaction.
     */
    public void emitHeartbeat(String content) {
        db.resultQuery("SELECT pg_catalog.pg_logical_emit_message(false, 'datakit_heartbeat', ?)", content).fetch();
    }

    /** Ends a server process of this user (a walsender this run lost track of); true when there was one. */
    public boolean terminate(int pid) {
        return Boolean.TRUE.equals(db.resultQuery("SELECT pg_catalog.pg_terminate_backend(?)", pid).fetchOne(0, Boolean.class));
    }

    private static String list(List<TableRef> tables) {
        return tables.stream().map(TableRef::sql).collect(Collectors.joining(", "));
    }

    @Override
    public void close() {
        try {
            connection.close();
        } catch (SQLException e) {
            // Closing is best effort: the session ends with the connection either way.
        }
    }
}
