package datakit.cdc;

import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The source tables a change stream follows by identity: each table's oid (which Relation messages carry, and which a
 * rename keeps), with the name it had when last seen and the bronze table its changes land in. A table renamed at the
 * source (ALTER TABLE shop.orders RENAME TO orders_v2) keeps its change table and --apply table, while the stream runs or
 * between runs. Kept in the stream's checkpoint state ({@link SlotCheckpoint#followedTables}), written in the warehouse
 * transaction that follows the table, so a restart finds what the last commit knew. A table the stream has not followed
 * yet lands in the bronze table named after it.
 */
final class TableIdentities {
    /** A table the stream follows: its name when last seen, and its bronze table's name (in the stream's bronze schema). */
    record Followed(TableRef source, String bronze) {
    }

    private final String bronzeSchema;
    private final String stream;
    private final Map<Long, Followed> byOid;
    /** The oids of the source tables the run's set-up names, as the source's catalog gives them now. */
    private final Map<TableRef, Long> oids = new HashMap<>();

    private TableIdentities(String bronzeSchema, String stream, Map<Long, Followed> byOid) {
        this.bronzeSchema = bronzeSchema;
        this.stream = stream;
        this.byOid = new LinkedHashMap<>(byOid);
    }

    /** What the stream's checkpoint holds, read in the caller's transaction (none before the bronze schema has one). */
    static TableIdentities read(Connection connection, String bronzeSchema, String stream) {
        var checkpoints = new SlotCheckpoint(bronzeSchema);
        return new TableIdentities(bronzeSchema, stream, checkpoints.exists(connection) ? checkpoints.followedTables(connection, stream)
            : Map.of());
    }

    /** As {@link #read}, in a transaction of its own; with the oids of {@code tables} on the source, for {@link #bronze(TableRef)}. */
    static TableIdentities read(Database warehouse, CdcSource src, String bronzeSchema, String stream, List<TableRef> tables) {
        try {
            TableIdentities identities = warehouse.inTransaction(connection -> read(connection, bronzeSchema, stream));
            identities.oids.putAll(src.oids(tables));
            return identities;
        } catch (SQLException e) {
            throw SqlErrors.failure("Reading the tables stream " + stream + " follows", e);
        }
    }

    /** Learns the oids of {@code tables} on the source, for {@link #bronze(TableRef)}. */
    void know(CdcSource src, List<TableRef> tables) {
        oids.putAll(src.oids(tables.stream().filter(t -> !oids.containsKey(t)).toList()));
    }

    /** The bronze table of {@code source}, one of the tables the set-up named: by its identity, else by its name. */
    TableRef bronze(TableRef source) {
        Long oid = oids.get(source);
        return oid == null ? TableRef.of(bronzeSchema, source.table()) : bronze(oid, source);
    }

    /** The bronze table of the table {@code oid}, named {@code source} now. */
    TableRef bronze(long oid, TableRef source) {
        return TableRef.of(bronzeSchema, Optional.ofNullable(byOid.get(oid)).map(Followed::bronze).orElse(source.table()));
    }

    /** The name the table {@code oid} had when the stream last saw it, if it has seen it. */
    Optional<TableRef> lastName(long oid) {
        return Optional.ofNullable(byOid.get(oid)).map(Followed::source);
    }

    /**
     * Records, in the caller's transaction, that the table {@code oid}, named {@code source} now, lands in {@code bronze},
     * unless the stream knew it so.
     */
    void follow(Connection transaction, long oid, TableRef source, TableRef bronze) {
        var followed = new Followed(source, bronze.table());
        if (!followed.equals(byOid.get(oid))) {
            new SlotCheckpoint(bronzeSchema).saveFollowedTable(transaction, stream, oid, source, bronze.table());
            byOid.put(oid, followed);
        }
    }

    /**
     * Records, in the caller's transaction, the column hashes ({@link ValueRefresh}) of {@code source}, one of the tables the
     * set-up named and the stream follows.
     */
    void keepColumnHashes(Connection transaction, TableRef source, Map<String, String> hashes) {
        Long oid = oids.get(source);
        if (oid != null && !hashes.isEmpty()) {
            new SlotCheckpoint(bronzeSchema).saveColumnHashes(transaction, stream, oid, hashes);
        }
    }

    /**
     * Records, in the caller's transaction, each of {@code tables} (named at set-up) that the stream does not follow yet, so a
     * rename made before its first change still finds its bronze tables. A table it follows keeps the name it had when last
     * seen: its next Relation message says whether it was renamed, in order with the changes before.
     */
    void followAll(Connection transaction, List<TableRef> tables) {
        tables.stream().filter(t -> oids.containsKey(t) && !byOid.containsKey(oids.get(t)))
            .forEach(t -> follow(transaction, oids.get(t), t, bronze(t)));
    }

    /**
     * Fails on a table asked for by a name the source no longer has, that this stream follows under a new name: the
     * stream goes on under that name, into the same bronze tables.
     */
    void refuseOldNames(CdcSource src, List<TableRef> asked) {
        Map<Long, TableRef> now = byOid.isEmpty() ? Map.of() : src.tablesNamed(List.copyOf(byOid.keySet()));
        for (TableRef table : asked) {
            if (oids.containsKey(table)) {
                continue;
            }
            byOid.forEach((oid, followed) -> {
                TableRef renamed = now.get(oid);
                if (renamed != null && !renamed.equals(table) && (followed.source().equals(table) || followed.bronze().equals(table.table()))) {
                    throw DatakitException.badInput("%s was renamed to %s on the source, and this stream follows it by its identity into %s. "
                        + "Pass --table %s instead (or leave out --table to capture the publication's tables).", table, renamed,
                        TableRef.of(bronzeSchema, followed.bronze()), renamed);
                }
            });
        }
    }
}
