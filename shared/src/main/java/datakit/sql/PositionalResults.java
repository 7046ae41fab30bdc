package datakit.sql;

import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import org.jooq.ExecuteContext;
import org.jooq.ExecuteListener;
import org.jooq.tools.jdbc.DefaultResultSet;
import org.postgresql.core.BaseConnection;
import org.postgresql.jdbc.PgResultSet;

/**
 * Results whose columns jOOQ describes without asking the catalog. For a query written as SQL text jOOQ names each result
 * column after its label and the table it came from, and PgJDBC answers {@link ResultSetMetaData#getTableName} with a
 * catalog query of its own ({@code pg_attribute}, {@code pg_attrdef}) for every result that has table columns: a round
 * trip per catalog or bookkeeping read; it asks the same for a column's type name, to call an integer column with a sequence
 * default {@code serial}. The datakits read results by position and by label, never by the table a column came from, so that
 * name is left empty and a type is named as the catalog names it ({@code int4}, which jOOQ reads as {@code serial} reads);
 * everything else the driver says about a column (its label, type, precision) stays.
 */
final class PositionalResults implements ExecuteListener {
    static final ExecuteListener LISTENER = new PositionalResults();

    private PositionalResults() {
    }

    @Override
    public void executeEnd(ExecuteContext ctx) {
        ResultSet results = ctx.resultSet();
        if (results != null) {
            ctx.resultSet(new DefaultResultSet(results, ctx.statement()) {
                @Override
                public ResultSetMetaData getMetaData() throws SQLException {
                    return new Columns(super.getMetaData(), results.unwrap(PgResultSet.class));
                }
            });
        }
    }

    /** The driver's description of the columns, without the table each came from. */
    private record Columns(ResultSetMetaData driver, PgResultSet results) implements ResultSetMetaData {
        @Override
        public String getTableName(int column) {
            return "";
        }

        /** The type's name from the driver's cache of types, as PgJDBC finds it, without asking about sequences. */
        @Override
        public String getColumnTypeName(int column) throws SQLException {
            return results.getStatement().getConnection().unwrap(BaseConnection.class).getTypeInfo().getPGType(results.getColumnOID(column));
        }

        @Override
        public int getColumnCount() throws SQLException {
            return driver.getColumnCount();
        }

        @Override
        public boolean isAutoIncrement(int column) throws SQLException {
            return driver.isAutoIncrement(column);
        }

        @Override
        public boolean isCaseSensitive(int column) throws SQLException {
            return driver.isCaseSensitive(column);
        }

        @Override
        public boolean isSearchable(int column) throws SQLException {
            return driver.isSearchable(column);
        }

        @Override
        public boolean isCurrency(int column) throws SQLException {
            return driver.isCurrency(column);
        }

        @Override
        public int isNullable(int column) throws SQLException {
            return driver.isNullable(column);
        }

        @Override
        public boolean isSigned(int column) throws SQLException {
            return driver.isSigned(column);
        }

        @Override
        public int getColumnDisplaySize(int column) throws SQLException {
            return driver.getColumnDisplaySize(column);
        }

        @Override
        public String getColumnLabel(int column) throws SQLException {
            return driver.getColumnLabel(column);
        }

        @Override
        public String getColumnName(int column) throws SQLException {
            return driver.getColumnName(column);
        }

        @Override
        public String getSchemaName(int column) throws SQLException {
            return driver.getSchemaName(column);
        }

        @Override
        public int getPrecision(int column) throws SQLException {
            return driver.getPrecision(column);
        }

        @Override
        public int getScale(int column) throws SQLException {
            return driver.getScale(column);
        }

        @Override
        public String getCatalogName(int column) throws SQLException {
            return driver.getCatalogName(column);
        }

        @Override
        public int getColumnType(int column) throws SQLException {
            return driver.getColumnType(column);
        }

        @Override
        public boolean isReadOnly(int column) throws SQLException {
            return driver.isReadOnly(column);
        }

        @Override
        public boolean isWritable(int column) throws SQLException {
            return driver.isWritable(column);
        }

        @Override
        public boolean isDefinitelyWritable(int column) throws SQLException {
            return driver.isDefinitelyWritable(column);
        }

        @Override
        public String getColumnClassName(int column) throws SQLException {
            return driver.getColumnClassName(column);
        }

        @Override
        public <T> T unwrap(Class<T> type) throws SQLException {
            return driver.unwrap(type);
        }

        @Override
        public boolean isWrapperFor(Class<?> type) throws SQLException {
            return driver.isWrapperFor(type);
        }
    }
}
