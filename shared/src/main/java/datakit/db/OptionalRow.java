package datakit.db;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;

/**
 * One row of a query whose figures a source may refuse to give without that failing the run: a role without EXECUTE on a
 * function, a managed server that does not offer it. In a transaction the query runs under a savepoint, so a refusal leaves
 * the transaction usable; only a connection that is gone fails.
 *
 * @param values  the row's values, or null when the server refused the query
 * @param failure the server's reason, or null
 */
public record OptionalRow(Object[] values, String failure) {

    /** The first row of {@code sql}, or why the server would not give it. */
    public static OptionalRow of(Connection connection, String sql) throws SQLException {
        Savepoint savepoint = connection.getAutoCommit() ? null : connection.setSavepoint();
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            var values = new Object[rs.getMetaData().getColumnCount()];
            for (int i = 0; i < values.length; i++) {
                values[i] = rs.getObject(i + 1);
            }
            if (savepoint != null) {
                connection.releaseSavepoint(savepoint);
            }
            return new OptionalRow(values, null);
        } catch (SQLException e) {
            if (savepoint != null) {
                try {
                    connection.rollback(savepoint);
                } catch (SQLException gone) {
                    e.addSuppressed(gone);
                    throw e;
                }
            }
            return new OptionalRow(null, SqlErrors.serverMessage(e));
        }
    }
}
