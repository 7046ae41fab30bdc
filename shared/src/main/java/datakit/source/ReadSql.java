package datakit.source;

import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The SQL text of a read: the FROM item, the column list, the WHERE that joins the user's condition to the
 * read's own, and the COPY around it. User SQL ({@code --where}, {@code --query}) enters only here, each time
 * on lines of its own, so a trailing {@code --} comment cannot swallow what follows it.
 */
final class ReadSql {
    private ReadSql() {
    }

    /** The FROM item of a selection: the table's quoted name, or the user's query as a subquery {@code q}. */
    static String from(Selection selection) {
        return selection.table().map(TableRef::sql).orElseGet(() -> query(selection.query().orElseThrow()));
    }

    /** The user's query as a subquery named {@code q}. */
    static String query(String query) {
        return "(\n" + query + "\n) AS q";
    }

    /** @param userWhere the user's condition; {@code ownWhere} one of ours, such as a block range */
    static String select(List<SourceColumn> columns, String from, Optional<String> userWhere, Optional<String> ownWhere) {
        String list = columns.stream()
            .map(c -> c.expression().map(e -> e + " AS " + Sql.quote(c.name()))
                .orElse(c.cast() ? Sql.quote(c.name()) + "::" + c.bronzeType() + " AS " + Sql.quote(c.name()) : Sql.quote(c.name())))
            .collect(Collectors.joining(", "));
        return "SELECT " + list + " FROM " + from + where(userWhere, ownWhere.stream().toList());
    }

    /** {@code " WHERE "} with the user's condition and ours ANDed, or "" when there is none. */
    static String where(Optional<String> userWhere, List<String> own) {
        List<String> conditions = all(userWhere, own);
        return conditions.isEmpty() ? "" : " WHERE " + String.join(" AND ", conditions);
    }

    /** The user's condition and ours, ANDed, as a --where of their own; "" when there is none. */
    static String conditions(Optional<String> userWhere, List<String> own) {
        return String.join(" AND ", all(userWhere, own));
    }

    private static List<String> all(Optional<String> userWhere, List<String> own) {
        // Newlines around user SQL keep a trailing -- comment from swallowing the closing parenthesis.
        return Stream.concat(userWhere.map(w -> "(\n" + w + "\n)").stream(), own.stream()).toList();
    }

    /** The columns' quoted names, comma-separated, as COPY column lists take them. */
    static String columnList(List<SourceColumn> columns) {
        return columns.stream().map(c -> Sql.quote(c.name())).collect(Collectors.joining(", "));
    }

    /** COPY of a table's own rows: a little faster than COPY (SELECT ...), where it returns the same rows. */
    static String copyTable(TableRef table, List<SourceColumn> columns) {
        return "COPY " + table.sql() + " (" + columnList(columns) + ") TO STDOUT (FORMAT binary)";
    }

    static String copyOf(String select) {
        return "COPY (" + select + ") TO STDOUT (FORMAT binary)";
    }

    /** The COPY that reads one part of a table planned with {@code plan}. */
    static String copyOf(ReadPlan plan, Part part) {
        return plan.plainColumns() && plan.selection().where().isEmpty() && part.where().isEmpty()
            ? copyTable(part.relation(), plan.columns())
            : copyOf(select(plan.columns(), part.from(), plan.selection().where(), part.where()));
    }

    /** A SELECT of the part's rows that the plan reads (its filter, no columns): for checks that count them. */
    static String rowsOf(ReadPlan plan, Part part, String selectList) {
        return "SELECT " + selectList + " FROM " + part.from() + where(plan.selection().where(), part.where().stream().toList());
    }
}
