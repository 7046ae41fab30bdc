package datakit.cdc;

import datakit.cdc.pgoutput.PgOutput;
import datakit.config.ConnectionSettings;
import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.db.TransactionSettings;
import datakit.error.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import datakit.wal.Lsn;
import datakit.wal.SlotReserve;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.exception.DataAccessException;

/**
 * The source's side of change data capture, on a connection of its own: the checks that must pass
 * before anything is created (a primary or a 16+ standby, logical {@code wal_level}, the REPLICATION
 * privilege, a key for every table and partition: see {@link ReplicaIdentities}), the publication (see
 * {@link Publications}), the tables' columns and partitions (see {@link CapturedTables}), where the WAL
 * ends, and what the server says about the slot. It is the one source connection of the datakits that may
 * write: a publication and a slot are catalog objects of the source. The rows of the source are only ever read.
 */
final class CdcSource implements AutoCloseable, ApplySource {
    /** The server's WAL position: the one it writes, or on a standby the one it has replayed. */
    private static final String WAL_POSITION = "CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() "
        + "ELSE pg_catalog.pg_current_wal_lsn() END";

    private final Connection connection;
    private final DSLContext db;
    private final TransactionSettings transactions;
    private final String where;
    private final CapturedTables captured;
    /** Whether the server is a hot standby: it then decodes (16+) but cannot create or change a publication. */
    private boolean standby;
    /** The server's server_version_num, once asked (0 before). */
    private int serverVersion;

    /** Each statement runs in a transaction of its own begun with the source's settings (statement_timeout, options). */
    private CdcSource(Connection connection, TransactionSettings transactions, String where) {
        this.connection = connection;
        this.transactions = transactions;
        this.db = Sql.using(transactions.eachStatement(connection));
        this.where = where;
        this.captured = new CapturedTables(connection, transactions, db, where, this::serverVersion);
    }

    public static CdcSource open(ConnectionSettings settings) {
        try {
            return new CdcSource(Database.connectOnce(settings, Database.Access.READ_WRITE),
                TransactionSettings.of(settings, Database.Access.READ_WRITE), settings.describe());
        } catch (SQLException e) {
            throw SqlErrors.connectFailure(settings, e, 1);
        }
    }

    /**
     * A replication slot as {@code pg_replication_slots} shows it (columns of later servers read by name, so any version answers).
     *
     * @param safeWalBytes how much further the slot may fall behind before the server invalidates it (safe_wal_size), when
     *                     max_slot_wal_keep_size limits it
     * @param keepLimitBytes max_slot_wal_keep_size, when set
     * @param invalidated  why the server invalidated the slot (its WAL removed: wal_status lost; 16+: a recovery conflict; 17+:
     *                     invalidation_reason), if it did: such a slot exists but can never stream again
     * @param failover     17+: whether the slot is synchronized to standbys, so it survives a failover
     */
    public record Slot(String name, String plugin, String database, boolean active, Optional<Integer> activePid,
                       Optional<Lsn> confirmedFlush, long lagBytes, long retainedBytes, String walStatus, Optional<Long> safeWalBytes,
                       Optional<Long> keepLimitBytes, Optional<String> invalidated, Optional<Boolean> failover) {
        /** Whether the slot can no longer stream: invalidated by the server, though it still exists. */
        public boolean lost() {
            return invalidated.isPresent();
        }

        /** How close the slot is to being invalidated. */
        public SlotReserve reserve() {
            return new SlotReserve(name, walStatus, safeWalBytes, keepLimitBytes);
        }
    }

    /**
     * Fails with what to do when the server cannot stream changes to this user. A hot standby can decode
     * from PostgreSQL 16 on; before that it is refused here, before anything is created.
     */
    void checkReady() {
        standby = db.resultQuery("SELECT pg_catalog.pg_is_in_recovery()").fetchOne(0, Boolean.class);
        DatakitException.check(!standby || serverVersion() >= 160000, "The source %s is a hot standby (in recovery), and PostgreSQL %d "
            + "cannot decode changes on a standby (16 and later can, from a publication made on the primary). Point --source at the "
            + "primary.", where, serverVersion() / 10000);
        String walLevel = db.resultQuery("SELECT current_setting('wal_level')").fetchOne(0, String.class);
        DatakitException.check(walLevel.equals("logical"), "The source %s has wal_level = %s, and change data capture needs logical. "
            + "Set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart the server.", where, walLevel);
        // The login's attribute: a replication connection has no role settings to switch to another.
        Record role = db.resultQuery("SELECT rolname, rolreplication OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user")
            .fetchOne();
        DatakitException.check(role.get(1, Boolean.class), "The source user %s lacks the REPLICATION privilege, which a replication "
            + "connection needs. Grant it: ALTER ROLE %s WITH REPLICATION.", role.get(0, String.class), Sql.quote(role.get(0, String.class)));
    }

    /**
     * Fails unless every table, and every partition of a partitioned one, can key its updates and deletes as
     * the stream needs (see {@link ReplicaIdentities#check}).
     */
    void checkKeys(List<TableRef> tables) {
        ReplicaIdentities.check(db, where, tables);
    }

    /**
     * Fails when the stream would capture a partition and a partitioned table above it: the publication
     * sends the partition's changes under one name only, so the other table would silently stay as loaded.
     */
    void checkNoPartitionWithItsParent(List<TableRef> tables) {
        captured.checkNoPartitionWithItsParent(tables);
    }

    /**
     * The columns that identify a row of {@code table}, for keeping a copy of it by key: those of the
     * replica identity index under REPLICA IDENTITY USING INDEX (what updates and deletes send as the old
     * key), else the primary key; empty when there is none (REPLICA IDENTITY FULL without a primary key).
     */
    public List<String> rowKey(TableRef table) {
        return ReplicaIdentities.rowKey(db, table);
    }

    @Override
    public List<String> rowKey(long oid) {
        return ReplicaIdentities.rowKey(db, oid);
    }

    /**
     * Every table of the database outside the system schemas, partitioned tables whole (not their
     * partitions): what a publication FOR ALL TABLES WITH (publish_via_partition_root) publishes.
     */
    List<TableRef> allTables() {
        return captured.allTables();
    }

    /**
     * What the server will say of each table in its first Relation message: the columns pgoutput sends
     * (not dropped, not generated, within the publication's column list), their types and which form the
     * replica identity. Read in {@code snapshot} when given (the slot's exported snapshot), so a change
     * table made from it has the types the source had at the slot's starting point.
     */
    public List<PgOutput.Relation> relations(List<TableRef> tables, String publication, Optional<String> snapshot) {
        return captured.relations(tables, publication, snapshot);
    }

    /**
     * The leaf partitions of the stream's partitioned tables, with the files that hold their rows; read in
     * {@code snapshot} when given (the slot's exported snapshot), so they are the leaves its snapshot loaded.
     */
    PartitionLeaves partitionLeaves(List<TableRef> tables, Optional<String> snapshot) {
        return captured.partitionLeaves(tables, snapshot);
    }

    /**
     * For columns added to {@code table} since rows were last seen: the value the rows older than each column
     * have in it, as text (empty for NULL). PostgreSQL keeps that value in the catalog (attmissingval) for a
     * column added with a non-volatile default, until the table is rewritten; a column added without default
     * holds NULL. A column left out of the answer may hold anything in older rows: a volatile default, a
     * default set later, or a rewrite since.
     */
    @Override
    public Map<String, Optional<String>> olderRowValues(long oid, List<String> columns) {
        return captured.olderRowValues(oid, columns);
    }

    /** Fails with the server's reason when {@code condition} is no condition on the rows of {@code table} (--where). */
    void checkCondition(TableRef table, String condition) {
        try {
            db.resultQuery("EXPLAIN SELECT 1 FROM " + table.sql() + " WHERE " + condition).fetch();
        } catch (DataAccessException e) {
            throw DatakitException.badInput("--where %s is no condition on the rows of %s: %s. Give a condition on its columns, such as "
                + "--where \"id < 1000\".", condition, table, SqlErrors.serverMessage(e));
        }
    }

    /** The identity (oid) of each of {@code tables} that exists on the source. */
    Map<TableRef, Long> oids(List<TableRef> tables) {
        return captured.oids(tables);
    }

    @Override
    public Map<Long, TableRef> tablesNamed(List<Long> oids) {
        return captured.tablesNamed(oids);
    }

    /** Whether the source is a hot standby (known after {@link #checkReady()}): it reads publications but cannot change them. */
    public boolean standby() {
        return standby;
    }

    /** The source's publications, as this stream may use them (known after {@link #checkReady()}: a standby may only read them). */
    Publications publications() {
        return new Publications(db, where, serverVersion(), standby);
    }

    public Optional<Slot> slot(String name) {
        return db.resultQuery("SELECT s.slot_name::text, s.plugin::text, s.database::text, s.active, s.active_pid, "
                + "s.confirmed_flush_lsn::text, coalesce(pg_catalog.pg_wal_lsn_diff(" + WAL_POSITION + ", s.confirmed_flush_lsn), 0)::bigint, "
                + "coalesce(pg_catalog.pg_wal_lsn_diff(" + WAL_POSITION + ", s.restart_lsn), 0)::bigint, " + SLOT_GUARDS
                + " FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = ?", name)
            .fetchOptional(r -> new Slot(r.get(0, String.class), r.get(1, String.class), r.get(2, String.class), r.get(3, Boolean.class),
                Optional.ofNullable(r.get(4, Integer.class)), Optional.ofNullable(r.get(5, String.class)).map(Lsn::parse),
                r.get(6, Long.class), r.get(7, Long.class), r.get(8, String.class), Optional.ofNullable(r.get(9, Long.class)),
                Optional.ofNullable(r.get(10, Long.class)), Optional.ofNullable(r.get(11, String.class)),
                Optional.ofNullable(r.get(12, String.class)).map(Boolean::parseBoolean)));
    }

    /**
     * What tells whether a slot ({@code s}, a row of pg_replication_slots) is in danger or lost: wal_status, safe_wal_size,
     * max_slot_wal_keep_size in bytes (NULL when unlimited), why it was invalidated (NULL when it was not) and, on 17+,
     * whether it is a failover slot. Read through to_jsonb, as the columns came with later servers.
     */
    static final String SLOT_GUARDS = "coalesce(to_jsonb(s) ->> 'wal_status', ''), (to_jsonb(s) ->> 'safe_wal_size')::bigint, "
        + "(SELECT NULLIF(setting::bigint, -1) * 1048576 FROM pg_catalog.pg_settings WHERE name = 'max_slot_wal_keep_size'), "
        + "CASE WHEN to_jsonb(s) ->> 'invalidation_reason' IS NOT NULL THEN to_jsonb(s) ->> 'invalidation_reason' "
        + "WHEN to_jsonb(s) ->> 'wal_status' = 'lost' THEN 'wal_removed' "
        + "WHEN (to_jsonb(s) ->> 'conflicting')::boolean THEN 'a recovery conflict' END, to_jsonb(s) ->> 'failover'";

    /** Fails when the slot cannot be ours to stream from: another plugin or database, or another process using it. */
    void checkSlotUsable(Slot slot) {
        String database = db.resultQuery("SELECT current_database()").fetchOne(0, String.class);
        DatakitException.check("pgoutput".equals(slot.plugin()) && database.equals(slot.database()), "Replication slot %s exists with "
            + "plugin %s in database %s; this datakit needs a pgoutput slot in %s. Give another --slot.", slot.name(), slot.plugin(),
            slot.database(), database);
        if (slot.active()) {
            throw DatakitException.badInput("Replication slot %s is in use by another process (pid %s). Stop that process, "
                + "or give this stream its own --slot: a slot serves one reader at a time.", slot.name(),
                slot.activePid().map(String::valueOf).orElse("unknown"));
        }
    }

    void dropSlot(String name) {
        db.resultQuery("SELECT pg_catalog.pg_drop_replication_slot(?)", name).fetch();
    }

    /** server_version_num: 150004 for 15.4; asked once, as the server of a connection does not change. */
    int serverVersion() {
        if (serverVersion == 0) {
            serverVersion = Integer.parseInt(db.resultQuery("SELECT current_setting('server_version_num')").fetchOne(0, String.class));
        }
        return serverVersion;
    }

    /**
     * Where the WAL this server can decode so far ends: every transaction committed so far ends at or before
     * it, and a walsender that has read everything reports at least it (see {@link WalEnd}). On a standby,
     * the position it has replayed.
     */
    @Override
    public Lsn walEnd() {
        // As text: a pg_lsn past 2^63 does not fit a signed bigint, and Lsn reads the text form whole.
        Record r = db.resultQuery("SELECT pg_catalog.pg_is_in_recovery(), (CASE WHEN pg_catalog.pg_is_in_recovery() "
            + "THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_insert_lsn() END)::text, "
            + "current_setting('wal_block_size')::int, "
            + "(SELECT setting::bigint FROM pg_catalog.pg_settings WHERE name = 'wal_segment_size')").fetchOne();
        Lsn position = Lsn.parse(r.get(1, String.class));
        // A replayed position is the end of a record already; only an insert position can point past a page header.
        return r.get(0, Boolean.class) ? position : WalEnd.ofInsertPosition(position, r.get(2, Integer.class), r.get(3, Long.class));
    }

    /**
     * Where the WAL this server has written to disk ends (on a standby, the position it has replayed): a
     * walsender sends nothing past it. It may end inside a record, at a page's end, while the rest of the
     * record waits in memory.
     */
    Lsn walFlushed() {
        return Lsn.parse(db.resultQuery("SELECT (CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() "
            + "ELSE pg_catalog.pg_current_wal_flush_lsn() END)::text").fetchOne(0, String.class));
    }

    /**
     * How long this server may keep a commit in memory before writing it to disk: three times wal_writer_delay
     * (for commits with synchronous_commit = off; others are on disk when they return).
     */
    Duration asynchronousCommitDelay() {
        return Duration.ofMillis(3 * db.resultQuery("SELECT setting::bigint FROM pg_catalog.pg_settings WHERE name = 'wal_writer_delay'")
            .fetchOne(0, Long.class));
    }

    /** The other pgoutput slots of the source database than {@code slot}: streams (or subscriptions) that may read a publication. */
    List<String> otherPgoutputSlots(String slot) {
        return db.resultQuery("SELECT slot_name::text FROM pg_catalog.pg_replication_slots WHERE plugin = 'pgoutput' "
            + "AND database = current_database() AND slot_name <> ? ORDER BY 1", slot).fetch(0, String.class);
    }

    /**
     * Writes a logical message into the source's WAL (not into any table): WAL in the slot's own database
     * for the stream to read past. Any role may, as EXECUTE on pg_logical_emit_message is granted to PUBLIC,
     * even in a read-only transaction.
     */
    void emitHeartbeat(String content) {
        db.resultQuery("SELECT pg_catalog.pg_logical_emit_message(false, 'datakit_heartbeat', ?)", content).fetch();
    }

    /** Ends a server process of this user (a walsender this run lost track of); true when there was one. */
    boolean terminate(int pid) {
        return Boolean.TRUE.equals(db.resultQuery("SELECT pg_catalog.pg_terminate_backend(?)", pid).fetchOne(0, Boolean.class));
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
