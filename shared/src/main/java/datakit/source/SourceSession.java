package datakit.source;

import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.cli.DatakitException;
import datakit.cli.ExitCode;
import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.sql.Sql;
import datakit.sql.SqlFragment;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.jooq.DSLContext;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyOut;

/**
 * One read-only, repeatable-read transaction on the source: the plan (catalog lookups, row estimate)
 * and the COPY that follows see the same snapshot, so the columns described are the columns streamed.
 */
public final class SourceSession implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Database database;
    private final Connection connection;
    private final DSLContext db;

    private SourceSession(Database database, Connection connection) {
        this.database = database;
        this.connection = connection;
        this.db = Sql.using(connection);
    }

    /** Starts the transaction. The session's connection is held until {@link #close()}. */
    public static SourceSession begin(Database database) {
        Connection connection = database.connect();
        try {
            connection.setAutoCommit(false);
            try (Statement st = connection.createStatement()) {
                st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            }
            return new SourceSession(database, connection);
        } catch (SQLException e) {
            closeQuietly(connection);
            throw SqlErrors.failure("Starting a read-only transaction on the source " + database.settings().describe(), e);
        }
    }

    /** Plans the read of {@code selection}: columns, bronze types, COPY statement, row estimate. */
    public ReadPlan plan(Selection selection) {
        try {
            return selection.query().isPresent() ? planQuery(selection) : planTable(selection);
        } catch (org.jooq.exception.DataAccessException e) {
            throw userSqlOrFailure(selection, e);
        }
    }

    private ReadPlan planTable(Selection selection) {
        TableRef ref = selection.table().orElseThrow();
        var catalog = new SourceCatalog(db, database.settings().describe());
        SourceCatalog.Relation relation = catalog.find(ref);
        var columns = SourceCatalog.pick(catalog.columns(relation), selection.columns(), ref.toString());
        var landed = land(columns);
        Optional<String> where = selection.where().map(w -> SqlFragment.check(w, "--where"));
        String select = select(landed, ref.sql(), where);
        boolean plainCopy = relation.plainTable() && !relation.rowSecurity() && where.isEmpty()
            && landed.stream().noneMatch(SourceColumn::cast);
        // COPY table TO is a little faster than COPY (SELECT ...); it only works for plain tables.
        String copy = plainCopy
            ? "COPY " + ref.sql() + " (" + columnList(landed) + ") TO STDOUT (FORMAT binary)"
            : copyOf(select);
        return new ReadPlan(selection, Optional.of(ref), landed, copy, estimateRows(select));
    }

    private ReadPlan planQuery(Selection selection) {
        String query = SqlFragment.check(selection.query().get(), "--query");
        String from = "(\n" + query + "\n) AS q";
        List<String> names = outputColumns(from);
        List<SourceCatalog.Column> all = outputTypes(from, names);
        var columns = SourceCatalog.pick(all, selection.columns(), "the --query result");
        var landed = land(columns);
        Optional<String> where = selection.where().map(w -> SqlFragment.check(w, "--where"));
        String select = select(landed, from, where);
        return new ReadPlan(selection, Optional.empty(), landed, copyOf(select), estimateRows(select));
    }

    private List<String> outputColumns(String from) {
        try (Statement st = connection.createStatement();
             var rs = st.executeQuery("SELECT * FROM " + from + " LIMIT 0")) {
            ResultSetMetaData meta = rs.getMetaData();
            var names = new ArrayList<String>();
            var seen = new HashSet<String>();
            for (int i = 1; i <= meta.getColumnCount(); i++) {
                String name = meta.getColumnLabel(i);
                DatakitException.check(seen.add(name),
                    "--query returns two columns named %s. Give each output column its own name with AS.", TableRef.display(name));
                names.add(name);
            }
            return names;
        } catch (SQLException e) {
            throw userSql("--query", e);
        }
    }

    /** The result's column types, taken with pg_typeof on an empty result (one NULL row via LEFT JOIN). */
    private List<SourceCatalog.Column> outputTypes(String from, List<String> names) {
        String typeList = names.stream()
            .map(n -> "pg_catalog.pg_typeof(q." + Sql.quote(n) + ")::oid::bigint")
            .collect(Collectors.joining(", "));
        var oids = db.resultQuery("SELECT " + typeList + " FROM (SELECT 1) AS one LEFT JOIN (SELECT * FROM " + from
            + " LIMIT 0) AS q ON true").fetchOne();
        var columns = new ArrayList<SourceCatalog.Column>();
        for (int i = 0; i < names.size(); i++) {
            long oid = oids.get(i, Long.class);
            String type = db.resultQuery("SELECT pg_catalog.format_type(?::oid, NULL)", oid).fetchOne(0, String.class);
            columns.add(new SourceCatalog.Column(names.get(i), oid, -1, type));
        }
        return columns;
    }

    private List<SourceColumn> land(List<SourceCatalog.Column> columns) {
        var types = new LandingTypes(db);
        return columns.stream().map(c -> {
            var landing = types.landing(c.typeOid(), c.typmod());
            return new SourceColumn(c.name(), c.type(), landing.type(), landing.cast(), landing.note());
        }).toList();
    }

    private static String select(List<SourceColumn> columns, String from, Optional<String> where) {
        String list = columns.stream()
            .map(c -> c.cast() ? Sql.quote(c.name()) + "::" + c.bronzeType() + " AS " + Sql.quote(c.name()) : Sql.quote(c.name()))
            .collect(Collectors.joining(", "));
        // Newlines around user SQL keep a trailing -- comment from swallowing the closing parenthesis.
        return "SELECT " + list + " FROM " + from + where.map(w -> " WHERE (\n" + w + "\n)").orElse("");
    }

    private static String columnList(List<SourceColumn> columns) {
        return columns.stream().map(c -> Sql.quote(c.name())).collect(Collectors.joining(", "));
    }

    private static String copyOf(String select) {
        return "COPY (" + select + ") TO STDOUT (FORMAT binary)";
    }

    private long estimateRows(String select) {
        try (Statement st = connection.createStatement();
             var rs = st.executeQuery("EXPLAIN (FORMAT JSON) " + select)) {
            rs.next();
            return JSON.readTree(rs.getString(1)).get(0).get("Plan").get("Plan Rows").asLong(-1);
        } catch (SQLException e) {
            throw userSql("--where", e);
        } catch (java.io.IOException e) {
            return -1;
        }
    }

    /** Starts streaming the plan's rows; the caller reads them with {@link CopyOut#readFromCopy()}. */
    public CopyOut startCopy(ReadPlan plan) throws SQLException {
        return connection.unwrap(PGConnection.class).getCopyAPI().copyOut(plan.copySql());
    }

    public Database database() {
        return database;
    }

    private DatakitException userSqlOrFailure(Selection selection, RuntimeException e) {
        Throwable cause = e.getCause() instanceof SQLException sql ? sql : e;
        return userSql(selection.query().isPresent() ? "--query" : "--where", cause);
    }

    /** SQL errors of class 42 (syntax, unknown names) and 22 (bad values) are the user's SQL; others are failures. */
    private DatakitException userSql(String option, Throwable e) {
        String state = SqlErrors.sqlState(e);
        if (state != null && (state.startsWith("42") || state.startsWith("22"))) {
            return new DatakitException(ExitCode.BAD_INPUT, "The source rejected %s: %s. Fix %s."
                .formatted(option, SqlErrors.serverMessage(e), option), e);
        }
        return SqlErrors.failure("Planning the read on the source " + database.settings().describe(), e);
    }

    @Override
    public void close() {
        try {
            connection.rollback();
        } catch (SQLException ignored) {
            // The connection may already be broken; closing it below is what matters.
        }
        closeQuietly(connection);
    }

    private static void closeQuietly(Connection connection) {
        try {
            connection.close();
        } catch (SQLException ignored) {
            // Nothing to do: the pool discards a broken connection.
        }
    }
}
