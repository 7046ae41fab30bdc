package datakit.cdc;

import datakit.cdc.pgoutput.PgOutput;
import datakit.db.SqlErrors;
import datakit.db.TransactionSettings;
import datakit.error.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.jooq.DSLContext;
import org.jooq.Record;

/**
 * What the source's catalog says of the tables a stream captures, on {@link CdcSource}'s connection: which
 * tables a publication for all tables publishes, that none is captured with its partitioned parent, the
 * columns pgoutput will send of each, their partitions' leaves, and the values older rows hold in columns
 * added since. The columns and leaves are read in the slot's exported snapshot where given, so they are
 * what the slot's starting point had.
 */
final class CapturedTables {
    private final Connection connection;
    private final TransactionSettings transactions;
    private final DSLContext db;
    private final String where;
    private final IntSupplier serverVersion;

    /** @param db statements on {@code connection}, each in a transaction of its own unless one is open */
    CapturedTables(Connection connection, TransactionSettings transactions, DSLContext db, String where, IntSupplier serverVersion) {
        this.connection = connection;
        this.transactions = transactions;
        this.db = db;
        this.where = where;
        this.serverVersion = serverVersion;
    }

    /** See {@link CdcSource#checkNoPartitionWithItsParent}. */
    void checkNoPartitionWithItsParent(List<TableRef> tables) {
        // A table that does not exist has no ancestors; checkKeys says it does not exist.
        db.resultQuery("""
                SELECT t.name, n.nspname::text, c.relname::text FROM unnest(?::text[]) WITH ORDINALITY AS t(name, position)
                CROSS JOIN LATERAL pg_catalog.pg_partition_ancestors(pg_catalog.to_regclass(t.name)) a
                JOIN pg_catalog.pg_class c ON c.oid = a.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE a.relid <> pg_catalog.to_regclass(t.name) ORDER BY t.position""",
                (Object) tables.stream().map(TableRef::sql).toArray(String[]::new))
            .forEach(a -> {
                TableRef table = tables.stream().filter(t -> t.sql().equals(a.get(0, String.class))).findFirst().orElseThrow();
                TableRef parent = TableRef.of(a.get(1, String.class), a.get(2, String.class));
                DatakitException.check(!tables.contains(parent), "%s is a partition of %s, and this stream captures both: its changes land "
                    + "once, in the change table of %s. Leave %s out of --table (or out of the publication).", table, parent, parent, table);
            });
    }

    /** See {@link CdcSource#allTables}. */
    List<TableRef> allTables() {
        return db.resultQuery("""
                SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname NOT LIKE 'pg\\_%'
                ORDER BY 1, 2""").fetch(r -> TableRef.of(r.get(0, String.class), r.get(1, String.class)));
    }

    /** See {@link CdcSource#relations}. */
    List<PgOutput.Relation> relations(List<TableRef> tables, String publication, Optional<String> snapshot) {
        return inSnapshot(snapshot, "the columns of the captured tables", () -> {
            var relations = new ArrayList<PgOutput.Relation>();
            for (TableRef table : tables) {
                relations.add(relation(table, publication));
            }
            return relations;
        });
    }

    private PgOutput.Relation relation(TableRef table, String publication) {
        List<String> key = ReplicaIdentities.rowKey(db, table);
        Record rel = db.resultQuery("SELECT c.oid::bigint, c.relreplident::text FROM pg_catalog.pg_class c WHERE c.oid = ?::regclass",
            table.sql()).fetchOne();
        boolean full = rel.get(1, String.class).equals("f");
        Optional<List<String>> listed = publishedColumns(publication, table);
        List<PgOutput.Column> columns = db.resultQuery("""
                SELECT a.attname::text, a.atttypid::bigint, a.atttypmod FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                ORDER BY a.attnum""", table.sql())
            .stream().filter(c -> listed.map(l -> l.contains(c.get(0, String.class))).orElse(true))
            .map(c -> new PgOutput.Column(full || key.contains(c.get(0, String.class)), c.get(0, String.class), c.get(1, Long.class),
                c.get(2, Integer.class)))
            .toList();
        return new PgOutput.Relation(Optional.empty(), rel.get(0, Long.class), table.schema(), table.table(),
            rel.get(1, String.class).charAt(0), columns);
    }

    /** The publication's column list for the table (PostgreSQL 15+), if it has one: pgoutput sends only those columns. */
    private Optional<List<String>> publishedColumns(String publication, TableRef table) {
        if (serverVersion.getAsInt() < 150000) {
            return Optional.empty();
        }
        return db.resultQuery("SELECT attnames::text[] FROM pg_catalog.pg_publication_tables WHERE pubname = ? AND schemaname = ? "
                + "AND tablename = ?", publication, table.schema(), table.table())
            .fetchOptional(0, String[].class).map(List::of);
    }

    /** See {@link CdcSource#partitionLeaves}. */
    PartitionLeaves partitionLeaves(List<TableRef> tables, Optional<String> snapshot) {
        return inSnapshot(snapshot, "the partitions of the captured tables", () -> PartitionLeaves.read(db, tables));
    }

    /** See {@link CdcSource#olderRowValues}. */
    Map<String, Optional<String>> olderRowValues(long oid, List<String> columns) {
        var values = new LinkedHashMap<String, Optional<String>>();
        db.resultQuery("""
                SELECT a.attname::text, a.atthasmissing, (a.attmissingval::text::text[])[1]
                FROM pg_catalog.pg_attribute a WHERE a.attrelid = ?::oid AND a.attname = ANY (?::text[]) AND NOT a.attisdropped
                  AND (a.atthasmissing OR NOT (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''))""",
                oid, columns.toArray(String[]::new))
            .forEach(r -> values.put(r.get(0, String.class), Optional.ofNullable(r.get(2, String.class))));
        return values;
    }

    /** See {@link CdcSource#oids}. */
    Map<TableRef, Long> oids(List<TableRef> tables) {
        var oids = new LinkedHashMap<TableRef, Long>();
        db.resultQuery("SELECT t.n, pg_catalog.to_regclass(t.name)::oid::bigint FROM unnest(?::text[]) WITH ORDINALITY AS t(name, n) "
                + "WHERE pg_catalog.to_regclass(t.name) IS NOT NULL ORDER BY 1", (Object) tables.stream().map(TableRef::sql).toArray(String[]::new))
            .forEach(r -> oids.put(tables.get(r.get(0, Integer.class) - 1), r.get(1, Long.class)));
        return oids;
    }

    /** See {@link CdcSource#tablesNamed}. */
    Map<Long, TableRef> tablesNamed(List<Long> oids) {
        var names = new LinkedHashMap<Long, TableRef>();
        db.resultQuery("SELECT c.oid::bigint, n.nspname::text, c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                + "ON n.oid = c.relnamespace WHERE c.oid = ANY (?::oid[])", (Object) oids.toArray(Long[]::new))
            .forEach(r -> names.put(r.get(0, Long.class), TableRef.of(r.get(1, String.class), r.get(2, String.class))));
        return names;
    }

    /** Runs {@code read} in a read-only transaction, in the exported {@code snapshot} when given. */
    private <T> T inSnapshot(Optional<String> snapshot, String what, Supplier<T> read) {
        try {
            transactions.begin(connection, Stream.concat(Stream.of("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
                snapshot.map(id -> "SET TRANSACTION SNAPSHOT " + Sql.literal(id)).stream()).toArray(String[]::new));
            T result = read.get();
            connection.commit();
            return result;
        } catch (SQLException e) {
            throw SqlErrors.failure("Reading " + what + " on the source " + where, e);
        } finally {
            try {
                connection.rollback();
                connection.setAutoCommit(true);
            } catch (SQLException e) {
                // The session is closed at the end of the run either way.
            }
        }
    }
}
