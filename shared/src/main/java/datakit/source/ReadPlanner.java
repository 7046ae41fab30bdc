package datakit.source;

import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.json.FlattenSpec;
import datakit.json.Flattening;
import datakit.json.KeyTypes;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.io.IOException;
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
import org.jooq.exception.DataAccessException;

/**
 * Plans a read in a session's snapshot: the catalog's columns of the table (or the query's output columns),
 * their bronze types, the columns {@code --flatten} adds and the child reads of {@code --explode}, the
 * declared JSON and large objects, the COPY statement and the planner's row estimate; and, with
 * {@code --enable-row-security}, which policies limit the rows read. The session holds the transaction;
 * {@link ReadSql} writes the text.
 */
final class ReadPlanner {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final SourceSession session;

    ReadPlanner(SourceSession session) {
        this.session = session;
    }

    ReadPlan plan(Selection selection) {
        try {
            return selection.query().isPresent() ? planQuery(selection) : planTable(selection);
        } catch (DataAccessException e) {
            throw userSql(selection, e.getCause() instanceof SQLException sql ? sql : e);
        }
    }

    private ReadPlan planTable(Selection selection) {
        TableRef ref = selection.table().orElseThrow();
        SourceCatalog catalog = session.catalog();
        SourceCatalog.Relation relation = catalog.find(ref);
        catalog.checkRenamedFrom(selection);
        var columns = SourceCatalog.pick(catalog.columns(relation), selection.columns(), ref.toString());
        var landed = land(columns);
        long estimate = estimateRows(ReadSql.select(landed, ref.sql(), selection.where(), Optional.empty()), selection);
        String sampling = "rmp".indexOf(relation.kind()) >= 0 ? sampling(selection.flatten().sampleRows(), estimate) : "";
        var sampled = new LinkedHashMap<FlattenSpec, List<KeyTypes>>();
        var flatKeys = new ArrayList<ReadPlan.FlatKey>();
        landed = withFlatColumns(landed, ref.sql(), selection, sampling, sampled, flatKeys);
        // The plan's selection keeps what the sample found, so a plan made again from it makes the same columns.
        selection = selection.flatten(selection.flatten().sampled(sampled));
        landed = selection.largeObjects().withContent(landed, ref.sql() + ".");
        landed = selection.mappings().apply(session.sql(), landed, ref.toString());
        boolean plainColumns = landed.stream().noneMatch(c -> c.cast() || c.expression().isPresent())
            && columns.stream().noneMatch(SourceCatalog.Column::generated);
        // COPY table TO is a little faster than COPY (SELECT ...), where it returns the same rows.
        String copy = plainColumns && relation.copiesLikeSelect() && selection.where().isEmpty()
            ? ReadSql.copyTable(ref, landed)
            : ReadSql.copyOf(ReadSql.select(landed, ref.sql(), selection.where(), Optional.empty()));
        List<String> key = selection.explode().isEmpty() && selection.jsonText().isEmpty() && selection.largeObjects().columns().isEmpty()
            && flatKeys.isEmpty() ? List.of() : catalog.primaryKey(relation);
        List<ReadPlan.Child> children = selection.explode().isEmpty() ? List.of()
            : ExplodedReads.plan(selection, ref, landed, key, this::plan);
        var checks = checks(selection, ref, landed, key, flatKeys);
        return new ReadPlan(selection, Optional.of(ref), declaredJson(landed, checks), copy, estimate, plainColumns, children, checks);
    }

    /**
     * What the warehouse checks of a table's rows: declared JSON, large objects and flattened keys' values, with the key
     * that names a rejected row.
     */
    private static ReadPlan.Checks checks(Selection selection, TableRef ref, List<SourceColumn> landed, List<String> key,
                                          List<ReadPlan.FlatKey> flatKeys) {
        // Rejects name their row by the key, when the read has all of it (--columns may leave it out).
        List<String> names = landed.stream().map(SourceColumn::name).toList();
        var checks = new ReadPlan.Checks(selection.jsonText(), selection.largeObjects(), names.containsAll(key) ? key : List.of(), flatKeys);
        for (String column : selection.jsonText()) {
            DatakitException.check(!key.contains(column), "--json-columns names %s, a column of the primary key of %s: a key stays as the "
                + "source holds it, so rejects can name their rows. Leave it out.", TableRef.display(column), ref);
        }
        return checks;
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
     * The read's columns followed by those {@code --flatten} adds; {@code sampled} receives the key types
     * they come from, {@code flatKeys} those the warehouse checks.
     */
    private List<SourceColumn> withFlatColumns(List<SourceColumn> read, String from, Selection selection, String sampling,
                                               Map<FlattenSpec, List<KeyTypes>> sampled, List<ReadPlan.FlatKey> flatKeys) {
        if (selection.flatten().isEmpty()) {
            return read;
        }
        var all = new ArrayList<>(read);
        all.addAll(new FlatColumns(sql -> session.rows(sql, selection)).of(selection.flatten(), read, from,
            ReadSql.where(selection.where(), List.of()), sampling, sampled, flatKeys));
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

    private ReadPlan planQuery(Selection selection) {
        DatakitException.check(selection.explode().isEmpty(), "--explode needs a table, whose primary key links the elements to their "
            + "rows. Give --table.");
        String from = ReadSql.query(selection.query().get());
        List<SourceCatalog.Column> all = outputColumns(from, selection);
        var columns = SourceCatalog.pick(all, selection.columns(), "the --query result");
        var sampled = new LinkedHashMap<FlattenSpec, List<KeyTypes>>();
        var flatKeys = new ArrayList<ReadPlan.FlatKey>();
        var landed = selection.largeObjects().withContent(withFlatColumns(land(columns), from, selection, "", sampled, flatKeys), "q.");
        selection = selection.flatten(selection.flatten().sampled(sampled));
        String select = ReadSql.select(landed, from, selection.where(), Optional.empty());
        var checks = new ReadPlan.Checks(selection.jsonText(), selection.largeObjects(), List.of(), flatKeys);
        return new ReadPlan(selection, Optional.empty(), declaredJson(landed, checks), ReadSql.copyOf(select), estimateRows(select, selection),
            false, List.of(), checks);
    }

    /**
     * The query's output columns and their types. The types come from pg_typeof over an empty result
     * joined to one row, so every column is NULL but typed; a query result carries no type modifiers.
     */
    private List<SourceCatalog.Column> outputColumns(String from, Selection selection) {
        var names = new ArrayList<String>();
        var types = new ArrayList<String>();
        try (Statement st = session.connection().createStatement()) {
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
                    String type = session.sql().resultQuery("SELECT pg_catalog.format_type(?::oid, NULL)", oid).fetchOne(0, String.class);
                    columns.add(new SourceCatalog.Column(names.get(i), oid, -1, type, false, false, oid));
                }
            }
            return columns;
        } catch (SQLException e) {
            throw userSql(selection, e);
        }
    }

    private List<SourceColumn> land(List<SourceCatalog.Column> columns) {
        var types = new LandingTypes(session.sql());
        return columns.stream().map(c -> {
            var landing = types.landing(c.typeOid(), c.typmod());
            return new SourceColumn(c.name(), c.type(), landing.type(), landing.cast(), landing.note(), Optional.empty());
        }).toList();
    }

    private long estimateRows(String select, Selection selection) {
        String plan = session.rows("EXPLAIN (FORMAT JSON) " + select, selection).get(0).get(0);
        try {
            return JSON.readTree(plan).get(0).get("Plan").get("Plan Rows").asLong(-1);
        } catch (IOException e) {
            return -1;
        }
    }

    /**
     * With {@code --enable-row-security}: what the run says of the rows it reads ({@link RowSecurity#note}), and so
     * which table's row-level security policies limit the rows of {@code selection} to those the source user may see,
     * found by planning the read again with {@code row_security} off (which the server refuses where a policy applies),
     * in a savepoint that puts the session's setting back. Empty without the option.
     */
    Optional<String> rowSecurityNote(Selection selection) {
        if (!session.database().settings().rowSecurity()) {
            return Optional.empty();
        }
        return Optional.of(RowSecurity.note(limitedByRowSecurity(selection), this::currentUser));
    }

    /** The role the session reads as, asked on its own connection (a pool of one has no other to give). */
    private String currentUser() {
        return session.sql().resultQuery("SELECT current_user::text").fetchOne(0, String.class);
    }

    private Optional<String> limitedByRowSecurity(Selection selection) {
        try (Statement st = session.connection().createStatement()) {
            st.execute("SAVEPOINT datakit_row_security; SET LOCAL row_security = off");
            try {
                st.execute("EXPLAIN SELECT FROM " + ReadSql.from(selection) + ReadSql.where(selection.where(), List.of()));
                return Optional.empty();
            } catch (SQLException e) {
                return Optional.of(RowSecurity.hiddenBy(e).orElseThrow(() -> userSql(selection, e)));
            } finally {
                st.execute("ROLLBACK TO SAVEPOINT datakit_row_security");
            }
        } catch (SQLException e) {
            throw SqlErrors.failure("Checking the row-level security of " + selection.describe() + " on the source", e,
                session.database());
        }
    }

    /** The source's refusal of the user's SQL or of the read, as a one-line error (see {@link ReadRefusal}). */
    private DatakitException userSql(Selection selection, Throwable e) {
        return ReadRefusal.of(session.database(), selection, e);
    }
}
