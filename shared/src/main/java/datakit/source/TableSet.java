package datakit.source;

import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.sql.TablePattern;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.jooq.Record;
import org.jooq.exception.DataAccessException;

/**
 * The source tables a run loads, given as psql-style patterns ({@link TablePattern}): every relation of the chosen kinds
 * that an include pattern matches and no exclude pattern does, found in one catalog query in the session's snapshot, so
 * each run resolves the patterns afresh and sees the tables that exist when it reads them.
 * <ul>
 *   <li>Kinds: tables and partitioned tables by default, as psql's {@code \dt} lists them; views, materialized views and
 *       foreign tables only when asked for.</li>
 *   <li>System schemas ({@code pg_catalog}, {@code information_schema}, {@code pg_toast}, {@code pg_temp_*} and every other
 *       {@code pg_*} schema, a prefix PostgreSQL keeps for itself) never match; psql would list their tables.</li>
 *   <li>A partition or inheritance child whose parent (at any depth) is in the set is left out: reading the parent reads its
 *       rows. One that matches on its own while its parent does not is a table of the set.</li>
 *   <li>An exclude pattern that matches a parent excludes its partitions and children too, so excluding a table never
 *       loads its rows under other names.</li>
 *   <li>Sorted by schema and table (byte order, as the catalog's {@code name} type sorts).</li>
 * </ul>
 *
 * @param include the patterns of the tables to load ({@code --table}, {@code --schema}); at least one
 * @param exclude the patterns of the tables to leave out ({@code --exclude-table})
 * @param kinds   the kinds of relation a pattern selects
 */
public record TableSet(List<TablePattern> include, List<TablePattern> exclude, Set<Kind> kinds) {

    /** A kind of relation, with its {@code pg_class.relkind}. */
    public enum Kind {
        TABLE('r'), PARTITIONED_TABLE('p'), VIEW('v'), MATERIALIZED_VIEW('m'), FOREIGN_TABLE('f');

        private final char relkind;

        Kind(char relkind) {
            this.relkind = relkind;
        }

        static Kind of(char relkind) {
            return Arrays.stream(values()).filter(k -> k.relkind == relkind).findFirst().orElseThrow();
        }

        /** For messages: "partitioned table". */
        public String label() {
            return name().toLowerCase().replace('_', ' ');
        }
    }

    /**
     * Every relation of the kinds given fifth that a pattern matches, with the patterns that do (by position), and whether an
     * ancestor (declarative partitioning or inheritance, any depth) is excluded or in the set (of the kinds given sixth).
     * The patterns are bind values, matched with the database's collation as psql does, not the catalog's "C".
     */
    private static final String QUERY = """
        WITH RECURSIVE
        include AS (SELECT s, t, i FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS p(s, t, i)),
        exclude AS (SELECT s, t, i FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS p(s, t, i)),
        relation AS (
          SELECT c.oid, n.nspname, c.relname, c.relkind::text AS kind,
                 ARRAY(SELECT p.i FROM include p WHERE n.nspname OPERATOR(pg_catalog.~) (p.s COLLATE pg_catalog."default")
                         AND c.relname OPERATOR(pg_catalog.~) (p.t COLLATE pg_catalog."default") ORDER BY p.i) AS included_by,
                 ARRAY(SELECT p.i FROM exclude p WHERE n.nspname OPERATOR(pg_catalog.~) (p.s COLLATE pg_catalog."default")
                         AND c.relname OPERATOR(pg_catalog.~) (p.t COLLATE pg_catalog."default") ORDER BY p.i) AS excluded_by
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind::text = ANY(?::text[]) AND n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_'),
        ancestor(oid, parent) AS (
          SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i
          WHERE i.inhrelid IN (SELECT r.oid FROM relation r WHERE cardinality(r.included_by) > 0)
          UNION ALL
          SELECT a.oid, i.inhparent FROM ancestor a JOIN pg_catalog.pg_inherits i ON i.inhrelid = a.parent)
        SELECT r.nspname::text, r.relname::text, r.oid::bigint, r.kind,
               array_to_string(r.included_by, ','), array_to_string(r.excluded_by, ','),
               EXISTS (SELECT FROM ancestor a JOIN relation p ON p.oid = a.parent
                       WHERE a.oid = r.oid AND cardinality(p.excluded_by) > 0),
               EXISTS (SELECT FROM ancestor a JOIN relation p ON p.oid = a.parent
                       WHERE a.oid = r.oid AND cardinality(p.included_by) > 0 AND cardinality(p.excluded_by) = 0
                         AND p.kind = ANY(?::text[]))
        FROM relation r
        WHERE cardinality(r.included_by) > 0 OR cardinality(r.excluded_by) > 0
        ORDER BY r.nspname, r.relname""";

    /** What psql's {@code \dt} lists: tables and partitioned tables. */
    public static final Set<Kind> TABLES = Set.copyOf(EnumSet.of(Kind.TABLE, Kind.PARTITIONED_TABLE));

    public TableSet {
        include = List.copyOf(include);
        exclude = List.copyOf(exclude);
        kinds = Set.copyOf(kinds);
        DatakitException.check(!include.isEmpty(), "No table pattern given. Give --table or --schema.");
        DatakitException.check(!kinds.isEmpty(), "No kind of relation chosen for the table patterns.");
    }

    /** The tables (and partitioned tables) that {@code include} matches and {@code exclude} does not. */
    public static TableSet tables(List<TablePattern> include, List<TablePattern> exclude) {
        return new TableSet(include, exclude, TABLES);
    }

    /** A relation of the set, as the catalog names it. */
    public record Table(TableRef ref, long oid, Kind kind) {
    }

    /**
     * An include pattern that selected nothing, with the relations of other kinds it matched ({@code shop.orders_view} when
     * views are not loaded), for the run's summary to say why.
     */
    public record Miss(TablePattern pattern, List<Table> otherKinds) {
        public Miss {
            otherKinds = List.copyOf(otherKinds);
        }

        /** "pattern shop.x* (--table) matched no table" (and what it matched instead). */
        public String describe(Set<Kind> kinds) {
            String wanted = kinds.stream().sorted().map(Kind::label).reduce((a, b) -> a + " or " + b).orElseThrow();
            return "pattern " + pattern + " matched no " + wanted + (otherKinds.isEmpty() ? "" : "; it matches "
                + otherKinds.stream().map(t -> t.kind().label() + " " + t.ref()).reduce((a, b) -> a + ", " + b).orElseThrow());
        }
    }

    /**
     * The set as resolved: its tables in order; the include patterns that matched no relation of the kinds (whatever the
     * excludes do: a pattern whose tables are all excluded is not a miss); and the exclude patterns that excluded nothing: they
     * matched no relation of the kinds (a typo there would load a table the user meant to leave out), or only partitions or
     * children of a table the set reads whole, whose rows come with it. What a miss costs is the caller's call.
     */
    public record Resolved(List<Table> tables, List<Miss> unmatched, List<TablePattern> unusedExcludes) {
        public Resolved {
            tables = List.copyOf(tables);
            unmatched = List.copyOf(unmatched);
            unusedExcludes = List.copyOf(unusedExcludes);
        }
    }

    /** Resolves the patterns in the session's snapshot, with one catalog query. */
    public Resolved resolve(SourceSession session) {
        List<Candidate> candidates = candidates(session);
        var tables = candidates.stream().filter(c -> c.included() && wanted(c) && !c.excluded() && !c.covered())
            .map(Candidate::table).toList();
        var unmatched = new ArrayList<Miss>();
        for (int i = 0; i < include.size(); i++) {
            int n = i + 1;
            if (candidates.stream().noneMatch(c -> c.includedBy().contains(n) && wanted(c))) {
                unmatched.add(new Miss(include.get(i), candidates.stream().filter(c -> c.includedBy().contains(n)).map(Candidate::table)
                    .toList()));
            }
        }
        // An exclude that matched only partitions or children of a table the set reads whole excluded nothing: their rows come
        // with the parent's.
        var unusedExcludes = IntStream.range(0, exclude.size())
            .filter(i -> candidates.stream().noneMatch(c -> c.excludedBy().contains(i + 1) && wanted(c) && !c.covered()))
            .mapToObj(exclude::get).toList();
        return new Resolved(tables, unmatched, unusedExcludes);
    }

    /**
     * Each table's size on disk with its TOAST as the catalog last counted it ({@code relpages}, kept by VACUUM and ANALYZE), a
     * partitioned or inheritance parent's being its members' (0 for one dropped since), in one query that takes no lock, so a
     * table another session locks does not hold it up: for starting the biggest tables of a set first.
     */
    public static Map<TableRef, Long> sizes(SourceSession session, List<Table> tables) {
        Map<Long, Long> byOid = session.sql().resultQuery("""
                WITH RECURSIVE member(root, oid) AS (
                  SELECT r, r FROM unnest(?::oid[]) AS r
                  UNION ALL
                  SELECT m.root, i.inhrelid FROM pg_catalog.pg_inherits i JOIN member m ON i.inhparent = m.oid)
                SELECT m.root::bigint, COALESCE(sum(c.relpages::bigint + COALESCE(t.relpages, 0)), 0)
                         * current_setting('block_size')::bigint
                FROM member m JOIN pg_catalog.pg_class c ON c.oid = m.oid
                LEFT JOIN pg_catalog.pg_class t ON t.oid = c.reltoastrelid GROUP BY m.root""",
                (Object) tables.stream().map(Table::oid).toArray(Long[]::new))
            .fetchMap(r -> r.get(0, Long.class), r -> r.get(1, Long.class));
        var sizes = new LinkedHashMap<TableRef, Long>();
        tables.forEach(t -> sizes.put(t.ref(), byOid.getOrDefault(t.oid(), 0L)));
        return sizes;
    }

    /**
     * Locks each table (ACCESS SHARE, with its partitions and children, as pg_dump does) in the transaction whose snapshot the
     * set is read in, so that no TRUNCATE, DROP or rewriting ALTER TABLE changes it until that transaction ends; and says, for
     * each table that cannot be read as the snapshot holds it, why: dropped or replaced since the snapshot, rewritten since
     * (TRUNCATE and rewriting commands are not MVCC-safe: the snapshot would see the new, empty files), or locked by another
     * session for longer than {@code wait}.
     */
    public static Map<TableRef, String> lockUnchanged(SourceSession session, List<Table> tables, Duration wait) {
        var problems = new LinkedHashMap<TableRef, String>();
        Connection connection = session.connection();
        try {
            session.sql().execute("SET LOCAL lock_timeout = " + Math.max(1, wait.toMillis()));
            for (Table table : tables) {
                Savepoint savepoint = connection.setSavepoint();
                try {
                    whyUnreadable(session, table).ifPresent(why -> problems.put(table.ref(), why));
                    connection.releaseSavepoint(savepoint);
                } catch (DataAccessException e) {
                    connection.rollback(savepoint);
                    problems.put(table.ref(), "55P03".equals(e.sqlState())
                        ? "locked by another session for more than %d s (an ALTER TABLE, VACUUM FULL, CLUSTER...), so it was not read; the next run reads it".formatted(wait.toSeconds())
                        : "dropped or renamed on the source after this run's snapshot was taken, so it was not read; the next run reads the tables as they are then");
                }
            }
            session.sql().execute("SET LOCAL lock_timeout = DEFAULT");
            return problems;
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Locking the tables of the set on the source", e, session.database());
        }
    }

    private static Optional<String> whyUnreadable(SourceSession session, Table table) {
        var db = session.sql();
        db.execute("LOCK TABLE " + table.ref().sql() + " IN ACCESS SHARE MODE");
        Long now = db.resultQuery("SELECT pg_catalog.to_regclass(?)::oid::bigint", table.ref().sql()).fetchOne(0, Long.class);
        if (now == null || now != table.oid()) {
            return Optional.of("dropped and created again on the source after this run's snapshot was taken, so it was not read; the next "
                + "run reads it as it is then");
        }
        // pg_class as the snapshot holds it, against the files the table has now.
        boolean rewritten = db.resultQuery("""
                WITH RECURSIVE member(oid) AS (SELECT ?::oid UNION ALL
                  SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN member m ON i.inhparent = m.oid)
                SELECT EXISTS (SELECT FROM member m JOIN pg_catalog.pg_class c ON c.oid = m.oid
                               WHERE c.relkind <> 'p' AND c.relfilenode IS DISTINCT FROM pg_catalog.pg_relation_filenode(c.oid))""",
                table.oid()).fetchOne(0, Boolean.class);
        return rewritten ? Optional.of("rewritten on the source after this run's snapshot was taken (TRUNCATE, ALTER TABLE ... TYPE, "
            + "VACUUM FULL or CLUSTER), so the snapshot cannot see its rows and it was not read; the next run reads it") : Optional.empty();
    }

    private boolean wanted(Candidate candidate) {
        return kinds.contains(candidate.table().kind());
    }

    /**
     * A relation some pattern matched: which include and exclude patterns did (1-based), whether an ancestor is excluded, and
     * whether an ancestor is itself in the set, so that reading it reads this one's rows.
     */
    private record Candidate(Table table, List<Integer> includedBy, List<Integer> excludedBy, boolean ancestorExcluded,
                             boolean covered) {
        boolean included() {
            return !includedBy.isEmpty();
        }

        boolean excluded() {
            return !excludedBy.isEmpty() || ancestorExcluded;
        }
    }

    private List<Candidate> candidates(SourceSession session) {
        Connection connection = session.connection();
        try {
            Savepoint savepoint = connection.setSavepoint();
            try {
                // Every regular expression is compiled first: the catalog query skips a table part whose schema part matched nothing.
                session.sql().resultQuery("SELECT count(*) FROM unnest(?::text[]) AS r(x) WHERE '' OPERATOR(pg_catalog.~) r.x",
                    (Object) Stream.of(regexes(include, true), regexes(include, false), regexes(exclude, true), regexes(exclude, false))
                        .flatMap(Arrays::stream).toArray(String[]::new)).fetch();
                List<Candidate> found = session.sql().resultQuery(QUERY,
                        regexes(include, true), regexes(include, false), regexes(exclude, true), regexes(exclude, false),
                        relkinds(EnumSet.allOf(Kind.class)), relkinds(kinds))
                    .fetch(this::candidate);
                connection.releaseSavepoint(savepoint);
                return found;
            } catch (DataAccessException e) {
                connection.rollback(savepoint);
                if (!"2201B".equals(e.sqlState())) {
                    throw e;
                }
                throw invalidPattern(connection, e);
            }
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Looking up the tables of " + describe() + " on the source", e, session.database());
        }
    }

    private Candidate candidate(Record r) {
        var table = new Table(TableRef.of(r.get(0, String.class), r.get(1, String.class)), r.get(2, Long.class),
            Kind.of(r.get(3, String.class).charAt(0)));
        return new Candidate(table, positions(r.get(4, String.class)), positions(r.get(5, String.class)), r.get(6, Boolean.class),
            r.get(7, Boolean.class));
    }

    /**
     * The pattern whose regular expression the server refused, found by asking it about each in turn under a savepoint: the
     * user's regular-expression syntax outside double quotes ({@code order(s}) is the only way one can be invalid.
     */
    private DatakitException invalidPattern(Connection connection, DataAccessException cause) throws SQLException {
        var all = new ArrayList<>(include);
        all.addAll(exclude);
        for (TablePattern pattern : all) {
            for (String regex : List.of(pattern.schemaRegex(), pattern.tableRegex())) {
                Savepoint savepoint = connection.setSavepoint();
                try (var st = connection.prepareStatement("SELECT '' OPERATOR(pg_catalog.~) ?")) {
                    st.setString(1, regex);
                    st.executeQuery().close();
                    connection.releaseSavepoint(savepoint);
                } catch (SQLException e) {
                    connection.rollback(savepoint);
                    return DatakitException.badInput(("%s pattern \"%s\" is not a valid regular expression: %s. Outside double "
                        + "quotes the characters of a pattern other than * ? . $ are regular-expression syntax, as in psql; put a name "
                        + "in double quotes to match it as written.").formatted(pattern.option(), pattern.text(), SqlErrors.serverMessage(e)),
                        cause);
                }
            }
        }
        return DatakitException.badInput("The table patterns " + describe() + " are not valid regular expressions: "
            + SqlErrors.serverMessage(cause) + ".", cause);
    }

    private static List<Integer> positions(String list) {
        return list.isEmpty() ? List.of() : Arrays.stream(list.split(",")).map(Integer::valueOf).toList();
    }

    private String describe() {
        return String.join(", ", include.stream().map(TablePattern::toString).toList());
    }

    private static String[] regexes(List<TablePattern> patterns, boolean schema) {
        return patterns.stream().map(p -> schema ? p.schemaRegex() : p.tableRegex()).toArray(String[]::new);
    }

    private static String[] relkinds(Set<Kind> chosen) {
        return chosen.stream().map(k -> String.valueOf(k.relkind)).toArray(String[]::new);
    }
}
