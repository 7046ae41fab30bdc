package datakit.source;

import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.checkpoint.SourcePosition;
import datakit.checkpoint.XidRanges;
import datakit.db.Database;
import datakit.db.ReplayLag;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.json.FlattenSpec;
import datakit.json.Flattening;
import datakit.json.KeyProfile;
import datakit.json.KeyTypes;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyOut;

/**
 * One read-only, repeatable-read transaction on the source, begun with the source's settings (see
 * {@link datakit.db.TransactionSettings}: {@code row_security} off, so a policy that would hide rows fails
 * the read): the plan (catalog lookups, row estimate) and the COPY that follow see the same snapshot, so the
 * columns described are the columns streamed.
 * User SQL ({@code --where}, {@code --query}) only ever runs through plain JDBC statements, never
 * through jOOQ's templating, where a {@code ?} operator would be taken for a bind parameter.
 */
public final class SourceSession implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Database database;
    private final Connection connection;
    private final DSLContext db;
    private final Optional<SourceProgress> progress;
    private boolean broken;

    private SourceSession(Database database, Connection connection, Optional<SourceProgress> progress) {
        this.database = database;
        this.connection = connection;
        this.db = Sql.using(connection);
        this.progress = progress;
    }

    /** Starts the transaction. The session's connection is held until {@link #close()}. */
    public static SourceSession begin(Database database) {
        return begin(database, Optional.empty());
    }

    /**
     * Starts a transaction that sees what the transaction that exported {@code snapshot} sees, so
     * parallel sessions read one consistent state. The exporting transaction must still be open.
     */
    public static SourceSession begin(Database database, Optional<String> snapshot) {
        return begin(database, snapshot, Optional.empty());
    }

    /**
     * Starts the transaction after asking the source, on the same connection in a transaction of its own, what it has
     * committed ({@link #progress()}), and which of {@code transactions} it has not: everything counted there is in this
     * session's snapshot.
     */
    public static SourceSession beginAfterProgress(Database database, XidRanges transactions) {
        return begin(database, Optional.empty(), Optional.of(transactions));
    }

    private static SourceSession begin(Database database, Optional<String> snapshot, Optional<XidRanges> askProgress) {
        Connection connection = database.connect();
        try {
            Optional<SourceProgress> progress = Optional.empty();
            if (askProgress.isPresent()) {
                database.begin(connection);
                progress = Optional.of(SourceProgress.read(connection, askProgress.get()));
                connection.rollback();
            }
            var first = new ArrayList<String>(List.of("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
            snapshot.ifPresent(id -> first.add("SET TRANSACTION SNAPSHOT " + Sql.literal(id)));
            database.begin(connection, first.toArray(String[]::new));
            return new SourceSession(database, connection, progress);
        } catch (SQLException | RuntimeException e) {
            database.discard(connection);
            throw SqlErrors.failure("Starting a read-only transaction on the source " + database.settings().describe()
                + snapshot.map(id -> " in the exported snapshot " + id).orElse(""), e, database);
        }
    }

    /**
     * Exports this transaction's snapshot for other sessions to share ({@code pg_export_snapshot()}). It
     * lives as long as this transaction, which therefore stays open while idle.
     */
    public String exportSnapshot() {
        db.execute("SET LOCAL idle_in_transaction_session_timeout = 0");
        return db.resultQuery("SELECT pg_catalog.pg_export_snapshot()").fetchOne(0, String.class);
    }

    /** Plans the read of {@code selection}: columns, bronze types, COPY statement, row estimate. */
    public ReadPlan plan(Selection selection) {
        try {
            return selection.query().isPresent() ? planQuery(selection) : planTable(selection);
        } catch (DataAccessException e) {
            throw userSql(selection, e.getCause() instanceof SQLException sql ? sql : e);
        }
    }

    private ReadPlan planTable(Selection selection) {
        TableRef ref = selection.table().orElseThrow();
        var catalog = new SourceCatalog(db, database.settings().describe());
        SourceCatalog.Relation relation = catalog.find(ref);
        var columns = SourceCatalog.pick(catalog.columns(relation), selection.columns(), ref.toString());
        var landed = land(columns);
        long estimate = estimateRows(select(landed, ref.sql(), selection.where(), Optional.empty()), selection);
        String sampling = "rmp".indexOf(relation.kind()) >= 0 ? sampling(selection.flatten().sampleRows(), estimate) : "";
        var sampled = new LinkedHashMap<FlattenSpec, List<KeyTypes>>();
        landed = withFlatColumns(landed, ref.sql(), selection, sampling, sampled);
        // The plan's selection keeps what the sample found, so a plan made again from it makes the same columns.
        selection = selection.flatten(selection.flatten().sampled(sampled));
        landed = selection.largeObjects().withContent(landed, ref.sql() + ".");
        landed = selection.mappings().apply(db, landed, ref.toString());
        String select = select(landed, ref.sql(), selection.where(), Optional.empty());
        boolean plainColumns = landed.stream().noneMatch(c -> c.cast() || c.expression().isPresent())
            && columns.stream().noneMatch(SourceCatalog.Column::generated);
        // COPY table TO is a little faster than COPY (SELECT ...), where it returns the same rows.
        String copy = plainColumns && relation.copiesLikeSelect() && selection.where().isEmpty()
            ? copyTable(ref, landed)
            : copyOf(select);
        List<String> key = selection.explode().isEmpty() && selection.jsonText().isEmpty() && selection.largeObjects().columns().isEmpty()
            ? List.of() : catalog.primaryKey(relation);
        List<ReadPlan.Child> children = selection.explode().isEmpty() ? List.of()
            : ExplodedReads.plan(selection, ref, landed, key, this::plan);
        // Rejects name their row by the key, when the read has all of it (--columns may leave it out).
        List<String> names = landed.stream().map(SourceColumn::name).toList();
        var checks = new ReadPlan.Checks(selection.jsonText(), selection.largeObjects(), names.containsAll(key) ? key : List.of());
        for (String column : selection.jsonText()) {
            DatakitException.check(!key.contains(column), "--json-columns names %s, a column of the primary key of %s: a key stays as the "
                + "source holds it, so rejects can name their rows. Leave it out.", TableRef.display(column), ref);
        }
        return new ReadPlan(selection, Optional.of(ref), declaredJson(landed, checks), copy, estimate, plainColumns, children, checks);
    }

    /**
     * The columns with those declared JSON landing as jsonb. They still travel as the text the source
     * holds (nothing is cast on the source, where a value that does not parse would stop the read); the
     * warehouse parses them.
     */
    private static List<SourceColumn> declaredJson(List<SourceColumn> columns, ReadPlan.Checks checks) {
        for (String name : checks.jsonText()) {
            SourceColumn column = SourceColumn.named(columns, name).filter(c -> c.expression().isEmpty())
                .orElseThrow(() -> DatakitException.badInput("--json-columns names %s, which the read has not. Name text columns it reads.",
                    TableRef.display(name)));
            DatakitException.check((column.bronzeType().startsWith("text") || column.bronzeType().startsWith("character"))
                    && !column.bronzeType().endsWith("[]"),
                "--json-columns names %s, which is %s: only text columns are declared JSON (json and jsonb columns are JSON already).",
                TableRef.display(name), column.bronzeType());
        }
        return columns.stream().map(c -> !checks.jsonText().contains(c.name()) ? c : new SourceColumn(c.name(), c.sourceType(), "jsonb",
            false, Optional.of("declared JSON: parsed in the warehouse; values that do not parse land in _bronze_rejects"),
            Optional.empty())).toList();
    }

    /**
     * The key profile of each JSON column the plan reads as it is, counted over every row it reads, in
     * this session's snapshot (so it describes exactly the rows copied after it).
     */
    public List<KeyProfile> profileJson(ReadPlan plan) {
        Selection selection = plan.selection();
        String from = selection.table().map(TableRef::sql).orElseGet(() -> "(\n" + selection.query().orElseThrow() + "\n) AS q")
            + where(selection.where(), Optional.empty());
        // Declared JSON columns are text on the source, where a value that does not parse would stop the read.
        return plan.columns().stream().filter(c -> c.expression().isEmpty() && c.json() && !plan.checks().jsonText().contains(c.name()))
            .map(c -> KeyProfile.of(sql -> rows(sql, selection), c.name(), c.jsonb(""), from)).toList();
    }

    /**
     * The read's columns followed by those {@code --flatten} adds; {@code sampled} receives the key types
     * they come from.
     */
    private List<SourceColumn> withFlatColumns(List<SourceColumn> read, String from, Selection selection, String sampling,
                                               Map<FlattenSpec, List<KeyTypes>> sampled) {
        if (selection.flatten().isEmpty()) {
            return read;
        }
        var all = new ArrayList<>(read);
        all.addAll(new FlatColumns(sql -> rows(sql, selection)).of(selection.flatten(), read, from, where(selection.where(), Optional.empty()),
            sampling, sampled));
        DatakitException.check(all.size() <= Flattening.MAX_COLUMNS, "--flatten would give %s %,d columns, more than a table can hold "
            + "with bronze's own (at most %,d). Flatten fewer levels or paths inside the columns.", selection.describe(), all.size(),
            Flattening.MAX_COLUMNS);
        return all;
    }

    /**
     * For learning the key types of a big table without reading all of it: pages picked at random (the
     * same ones each time) so that about twice {@code rows} rows come back, spread over old and new rows
     * alike. "" reads the table from its start: for small tables, and small samples, where a few random
     * pages could hold no row at all.
     */
    private static String sampling(long rows, long estimate) {
        if (rows < 1_000 || estimate < 10 * rows) {
            return "";
        }
        return String.format(Locale.ROOT, "TABLESAMPLE SYSTEM (%.4f) REPEATABLE (0)", 200.0 * rows / estimate);
    }

    private static String copyTable(TableRef table, List<SourceColumn> columns) {
        return "COPY " + table.sql() + " (" + columnList(columns) + ") TO STDOUT (FORMAT binary)";
    }

    private ReadPlan planQuery(Selection selection) {
        DatakitException.check(selection.explode().isEmpty(), "--explode needs a table, whose primary key links the elements to their "
            + "rows. Give --table.");
        String from = "(\n" + selection.query().get() + "\n) AS q";
        List<SourceCatalog.Column> all = outputColumns(from, selection);
        var columns = SourceCatalog.pick(all, selection.columns(), "the --query result");
        var sampled = new LinkedHashMap<FlattenSpec, List<KeyTypes>>();
        var landed = selection.largeObjects().withContent(withFlatColumns(land(columns), from, selection, "", sampled), "q.");
        selection = selection.flatten(selection.flatten().sampled(sampled));
        String select = select(landed, from, selection.where(), Optional.empty());
        var checks = new ReadPlan.Checks(selection.jsonText(), selection.largeObjects(), List.of());
        return new ReadPlan(selection, Optional.empty(), declaredJson(landed, checks), copyOf(select), estimateRows(select, selection),
            false, List.of(), checks);
    }

    /**
     * The query's output columns and their types. The types come from pg_typeof over an empty result
     * joined to one row, so every column is NULL but typed; a query result carries no type modifiers.
     */
    private List<SourceCatalog.Column> outputColumns(String from, Selection selection) {
        var names = new ArrayList<String>();
        var types = new ArrayList<String>();
        try (Statement st = connection.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT * FROM " + from + " LIMIT 0")) {
                ResultSetMetaData meta = rs.getMetaData();
                var seen = new HashSet<String>();
                for (int i = 1; i <= meta.getColumnCount(); i++) {
                    String name = meta.getColumnLabel(i);
                    DatakitException.check(seen.add(name),
                        "--query returns two columns named %s. Give each output column its own name with AS.", TableRef.display(name));
                    names.add(name);
                    types.add("pg_catalog.pg_typeof(q." + Sql.quote(name) + ")::oid::bigint");
                }
            }
            DatakitException.check(!names.isEmpty(), "--query returns no columns. Select at least one.");
            var columns = new ArrayList<SourceCatalog.Column>();
            try (ResultSet rs = st.executeQuery("SELECT " + String.join(", ", types)
                + " FROM (SELECT 1) AS one LEFT JOIN (SELECT * FROM " + from + " LIMIT 0) AS q ON true")) {
                rs.next();
                for (int i = 0; i < names.size(); i++) {
                    long oid = rs.getLong(i + 1);
                    String type = db.resultQuery("SELECT pg_catalog.format_type(?::oid, NULL)", oid).fetchOne(0, String.class);
                    columns.add(new SourceCatalog.Column(names.get(i), oid, -1, type, false, false, oid));
                }
            }
            return columns;
        } catch (SQLException e) {
            throw userSql(selection, e);
        }
    }

    private List<SourceColumn> land(List<SourceCatalog.Column> columns) {
        var types = new LandingTypes(db);
        return columns.stream().map(c -> {
            var landing = types.landing(c.typeOid(), c.typmod());
            return new SourceColumn(c.name(), c.type(), landing.type(), landing.cast(), landing.note(), Optional.empty());
        }).toList();
    }

    /** @param userWhere the user's condition; {@code ownWhere} one of ours, such as a block range */
    private static String select(List<SourceColumn> columns, String from, Optional<String> userWhere, Optional<String> ownWhere) {
        String list = columns.stream()
            .map(c -> c.expression().map(e -> e + " AS " + Sql.quote(c.name()))
                .orElse(c.cast() ? Sql.quote(c.name()) + "::" + c.bronzeType() + " AS " + Sql.quote(c.name()) : Sql.quote(c.name())))
            .collect(Collectors.joining(", "));
        return "SELECT " + list + " FROM " + from + where(userWhere, ownWhere);
    }

    private static String where(Optional<String> userWhere, Optional<String> ownWhere) {
        // Newlines around user SQL keep a trailing -- comment from swallowing the closing parenthesis.
        List<String> conditions = Stream.concat(userWhere.map(w -> "(\n" + w + "\n)").stream(), ownWhere.stream()).toList();
        return conditions.isEmpty() ? "" : " WHERE " + String.join(" AND ", conditions);
    }

    /** The columns' quoted names, comma-separated, as COPY column lists take them. */
    static String columnList(List<SourceColumn> columns) {
        return columns.stream().map(c -> Sql.quote(c.name())).collect(Collectors.joining(", "));
    }

    /** The COPY that reads one part of a table planned with {@code plan}. */
    static String copyOf(ReadPlan plan, Part part) {
        return plan.plainColumns() && plan.selection().where().isEmpty() && part.where().isEmpty()
            ? copyTable(part.relation(), plan.columns())
            : copyOf(select(plan.columns(), part.from(), plan.selection().where(), part.where()));
    }

    /** A SELECT of the part's rows that the plan reads (its filter, no columns): for checks that count them. */
    static String rowsOf(ReadPlan plan, Part part, String selectList) {
        return "SELECT " + selectList + " FROM " + part.from() + where(plan.selection().where(), part.where());
    }

    private static String copyOf(String select) {
        return "COPY (" + select + ") TO STDOUT (FORMAT binary)";
    }

    private long estimateRows(String select, Selection selection) {
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("EXPLAIN (FORMAT JSON) " + select)) {
            rs.next();
            return JSON.readTree(rs.getString(1)).get(0).get("Plan").get("Plan Rows").asLong(-1);
        } catch (SQLException e) {
            throw userSql(selection, e);
        } catch (java.io.IOException e) {
            return -1;
        }
    }

    /**
     * With {@code --enable-row-security}: what the run says of the rows it reads ({@link RowSecurity#note}), and so
     * which table's row-level security policies limit the rows of {@code selection} to those the source user may see,
     * found by planning the read again with {@code row_security} off (which the server refuses where a policy applies),
     * in a savepoint that puts the session's setting back. Empty without the option.
     */
    public Optional<String> rowSecurityNote(Selection selection) {
        if (!database.settings().rowSecurity()) {
            return Optional.empty();
        }
        return Optional.of(RowSecurity.note(limitedByRowSecurity(selection), this::currentUser));
    }

    /** The role the session reads as, asked on its own connection (a pool of one has no other to give). */
    private String currentUser() {
        return db.resultQuery("SELECT current_user::text").fetchOne(0, String.class);
    }

    private Optional<String> limitedByRowSecurity(Selection selection) {
        String from = selection.table().map(TableRef::sql).orElseGet(() -> "(\n" + selection.query().orElseThrow() + "\n) AS q");
        try (Statement st = connection.createStatement()) {
            st.execute("SAVEPOINT datakit_row_security; SET LOCAL row_security = off");
            try {
                st.execute("EXPLAIN SELECT FROM " + from + where(selection.where(), Optional.empty()));
                return Optional.empty();
            } catch (SQLException e) {
                return Optional.of(RowSecurity.hiddenBy(e).orElseThrow(() -> userSql(selection, e)));
            } finally {
                st.execute("ROLLBACK TO SAVEPOINT datakit_row_security");
            }
        } catch (SQLException e) {
            throw SqlErrors.failure("Checking the row-level security of " + selection.describe() + " on the source", e, database);
        }
    }

    /** The source's catalog, read in this session's snapshot. */
    SourceCatalog catalog() {
        return new SourceCatalog(db, database.settings().describe());
    }

    /** The partition trees and block ranges of the source, read in this session's snapshot, for reading {@code selection}. */
    PartitionCatalog partitionCatalog(Selection selection) {
        return new PartitionCatalog(db, database.settings().rowSecurity(), sql -> rows(sql, selection));
    }

    /** Every row of a query that may contain user SQL, as text, in this session's snapshot. */
    List<List<String>> rows(String sql, Selection forErrors) {
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            var rows = new ArrayList<List<String>>();
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                var row = new ArrayList<String>(n);
                for (int i = 1; i <= n; i++) {
                    row.add(rs.getString(i));
                }
                rows.add(row);
            }
            return rows;
        } catch (SQLException e) {
            throw userSql(forErrors, e);
        }
    }

    /** Starts streaming the plan's rows; the caller reads them with {@link CopyOut#readFromCopy()}. */
    public CopyOut startCopy(ReadPlan plan) throws SQLException {
        return startCopy(plan.copySql());
    }

    CopyOut startCopy(String copySql) throws SQLException {
        broken = true; // until the stream ends cleanly, a failure may leave the connection mid-protocol
        return connection.unwrap(PGConnection.class).getCopyAPI().copyOut(copySql);
    }

    /** Marks the stream complete: the connection is in a clean state again. */
    public void copyDone() {
        broken = false;
    }

    /** The source's refusal of the user's SQL or of the read, as a one-line error (see {@link ReadRefusal}). */
    private DatakitException userSql(Selection selection, Throwable e) {
        return ReadRefusal.of(database, selection, e);
    }

    /**
     * How far behind its primary the source's data is, when the source is a hot standby; read at once, so at about the snapshot's
     * time. Figures the source will not give are left unknown; only a lost connection fails.
     */
    public Optional<ReplayLag> replayLag() {
        try {
            return ReplayLag.of(connection);
        } catch (SQLException e) {
            throw new DataAccessException("Reading the replay lag of the source " + database.settings().describe() + " failed", e);
        }
    }

    /** What the source had committed just before this session's snapshot was taken, when the session began after asking it. */
    public SourceProgress progress() {
        return progress.orElseThrow(() -> new IllegalStateException("the session began without asking the source's progress"));
    }

    /**
     * The source's cluster and WAL position read now, in this session's snapshot: the snapshot holds no commit past it (see
     * {@link SourceProgress}). Empty where the source will not tell; only a lost connection fails.
     */
    public Optional<SourcePosition> position() {
        try {
            return SourceProgress.position(connection);
        } catch (SQLException e) {
            throw new DataAccessException("Reading the WAL position of the source " + database.settings().describe() + " failed", e);
        }
    }

    /**
     * Fails with what ended this session's transaction, if something did: a hot standby ends a session that sits idle in
     * a transaction holding up its replay, and a statement on it then reports why.
     */
    public void checkOpen() throws SQLException {
        try (Statement st = connection.createStatement()) {
            st.execute("SELECT 1");
        }
    }

    /** Ends the transaction. A connection left mid-COPY by a failure is discarded rather than reused. */
    @Override
    public void close() {
        if (broken) {
            database.discard(connection);
            return;
        }
        try {
            connection.rollback();
            connection.close();
        } catch (SQLException e) {
            database.discard(connection);
        }
    }
}
