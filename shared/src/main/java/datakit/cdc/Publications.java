package datakit.cdc;

import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.List;
import java.util.stream.Collectors;
import org.jooq.DSLContext;

/**
 * The publications of the source, as a change stream uses them: made when missing (with
 * publish_via_partition_root, so a partitioned table's changes arrive under its own name), given the
 * tables they lack, and checked. Whether a publication covers a table follows partitioning: a partition
 * is covered by its partitioned table's membership, and a publication of all tables or (15+) of a schema
 * covers its tables. On a hot standby nothing can be made or changed; a publication from the primary is
 * required instead.
 */
final class Publications {
    private final DSLContext db;
    private final String where;
    private final int serverVersion;
    private final boolean standby;

    Publications(DSLContext db, String where, int serverVersion, boolean standby) {
        this.db = db;
        this.where = where;
        this.serverVersion = serverVersion;
        this.standby = standby;
    }

    /** The tables a publication carries for a stream, and whether it was created for this stream just now. */
    public record Ready(List<TableRef> tables, boolean created) {
    }

    public boolean exists(String publication) {
        return db.resultQuery("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ?)", publication).fetchOne(0, Boolean.class);
    }

    /** The tables a publication publishes, in name order. */
    public List<TableRef> tables(String publication) {
        return db.resultQuery("SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = ? ORDER BY 1, 2", publication)
            .fetch(r -> TableRef.of(r.get(0, String.class), r.get(1, String.class)));
    }

    /**
     * Creates the publication when missing, for {@code tables} or, when none are given, for all tables;
     * adds given tables an existing publication does not cover. A publication made here publishes a
     * partitioned table under its own name (publish_via_partition_root), so every partition's changes,
     * also of partitions attached later and of rows moved between partitions, land in one change table.
     */
    Ready ensure(String name, List<TableRef> tables) {
        boolean exists = exists(name);
        if (standby) {
            require(name, tables);
            return new Ready(tables(name), false);
        }
        try {
            if (!exists) {
                db.execute("CREATE PUBLICATION " + Sql.quote(name) + (tables.isEmpty() ? " FOR ALL TABLES" : " FOR TABLE " + list(tables))
                    + (serverVersion >= 130000 ? " WITH (publish_via_partition_root = true)" : ""));
            } else {
                List<TableRef> missing = missingFrom(name, tables);
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
        return new Ready(tables(name), !exists);
    }

    /**
     * On a hot standby (PostgreSQL 16+) nothing can be created or changed: the publication must come from
     * the primary, holding every table asked for. Fails with what to run there otherwise.
     */
    void require(String name, List<TableRef> tables) {
        if (!standby) {
            return;
        }
        DatakitException.check(exists(name), "The source %s is a hot standby, where a publication cannot be created. Create "
            + "it on the primary (CREATE PUBLICATION %s FOR TABLE ... WITH (publish_via_partition_root = true)) and run again once the "
            + "standby has replayed it.", where, name);
        List<TableRef> missing = missingFrom(name, tables);
        DatakitException.check(missing.isEmpty(), "Publication %s does not hold %s, and the source %s is a hot standby, where a "
            + "publication cannot be changed. On the primary, run ALTER PUBLICATION %s ADD TABLE %s.", name,
            missing.stream().map(TableRef::toString).collect(Collectors.joining(", ")), where, name, list(missing));
    }

    /** The tables of {@code tables} whose changes the publication does not send: neither it nor a table above it is a member. */
    List<TableRef> missingFrom(String publication, List<TableRef> tables) {
        List<String> missing = db.resultQuery("SELECT t.name FROM unnest(?::text[]) WITH ORDINALITY AS t(name, position) WHERE NOT EXISTS "
                + "(SELECT 1 FROM pg_catalog.pg_publication p WHERE p.pubname = ? AND " + covers("p", "pg_catalog.to_regclass(t.name)") + ") "
                + "ORDER BY t.position", names(tables), publication)
            .fetch(0, String.class);
        return tables.stream().filter(t -> missing.contains(t.sql())).toList();
    }

    /**
     * Fails when a publication that exists sends, or would once {@code tables} are added to it, a partitioned
     * table's changes under the name of each partition (publish_via_partition_root off): they would land in a
     * change table per partition, and a row moved between partitions in two. Partitions published on their
     * own, without their root, are tables like any other.
     */
    void checkPartitionsPublishedWhole(String publication, List<TableRef> tables) {
        db.resultQuery("""
                SELECT rn.nspname::text, r.relname::text FROM pg_catalog.pg_publication p
                JOIN pg_catalog.pg_publication_tables t ON t.pubname = p.pubname
                JOIN pg_catalog.pg_namespace n ON n.nspname = t.schemaname
                JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.tablename
                JOIN pg_catalog.pg_class r ON r.oid = pg_catalog.pg_partition_root(c.oid)
                JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
                WHERE p.pubname = ? AND NOT p.pubviaroot AND c.relispartition AND """ + covers("p", "r.oid") + """

                UNION
                SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_publication p CROSS JOIN unnest(?::text[]) AS t(name)
                JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(t.name) JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE p.pubname = ? AND NOT p.pubviaroot AND c.relkind = 'p'
                ORDER BY 1, 2""", publication, names(tables), publication)
            .stream().findFirst().ifPresent(root -> {
                throw DatakitException.badInput("Publication %s publishes the partitions of %s each under its own name "
                    + "(publish_via_partition_root is off), so their changes would not land in one change table. Run ALTER PUBLICATION %s "
                    + "SET (publish_via_partition_root = true) as its owner (then --snapshot always once, if this stream landed "
                    + "partitions before).", publication, TableRef.of(root.get(0, String.class), root.get(1, String.class)), publication);
            });
    }

    /**
     * Drops the publication, if it still exists. Only for one this stream created and no other slot of the
     * database may read: others belong to whoever made them.
     */
    void drop(String name) {
        db.execute("DROP PUBLICATION IF EXISTS " + Sql.quote(name));
    }

    /**
     * SQL that is true when publication {@code p} covers the table {@code relid}: a publication of all
     * tables, or the table or a partitioned table above it is a member, directly or (15+) through its schema.
     */
    private String covers(String p, String relid) {
        String self = "(SELECT " + relid + " UNION ALL SELECT relid FROM pg_catalog.pg_partition_ancestors(" + relid + "))";
        return "(" + p + ".puballtables OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr WHERE pr.prpubid = " + p + ".oid "
            + "AND pr.prrelid IN " + self + ")"
            + (serverVersion >= 150000 ? " OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace pn JOIN pg_catalog.pg_class cc "
                + "ON cc.relnamespace = pn.pnnspid WHERE pn.pnpubid = " + p + ".oid AND cc.oid IN " + self + ")" : "") + ")";
    }

    /** The tables' quoted names, as one text[] bind value. */
    private static Object names(List<TableRef> tables) {
        return tables.stream().map(TableRef::sql).toArray(String[]::new);
    }

    private static String list(List<TableRef> tables) {
        return tables.stream().map(TableRef::sql).collect(Collectors.joining(", "));
    }
}
