package datakit.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;

/**
 * A COPY into the warehouse that fails part-way is cancelled, never completed: its transaction commits nothing, and
 * the connection serves the next statement once rolled back.
 */
class CopyPipeIT {
    private static final String ROWS = "COPY (SELECT g, 100000 / (50000 - g) FROM generate_series(1, 100000) g) TO STDOUT (FORMAT binary)";
    private static TestDatabase database;

    @BeforeAll
    static void createTable() {
        database = TestPostgres.createDatabase("copypipe");
        database.execute("CREATE TABLE landed (id int, share int)");
    }

    @Test
    void aSourceThatFailsMidStreamLeavesNothingCommittedAndTheWarehouseConnectionUsable() throws SQLException {
        try (Connection source = database.connect(); Connection warehouse = inTransaction()) {
            var seen = new AtomicLong();

            assertThatThrownBy(() -> CopyPipe.transfer(warehouse, "COPY landed FROM STDIN (FORMAT binary)",
                () -> source.unwrap(PGConnection.class).getCopyAPI().copyOut(ROWS), (rows, bytes) -> seen.set(rows)))
                .isInstanceOf(SQLException.class).hasMessageContaining("division by zero");

            assertThat(seen.get()).as("rows reached the warehouse before the source failed").isPositive();
            assertCancelledAndUsable(warehouse);
            assertThat(value(source, "SELECT 1")).as("the source connection too is usable").isEqualTo(1);
        }
    }

    @Test
    void aSourceThatCannotStartCancelsTheWarehouseCopy() throws SQLException {
        try (Connection warehouse = inTransaction()) {
            assertThatThrownBy(() -> CopyPipe.transfer(warehouse, "COPY landed FROM STDIN (FORMAT binary)", () -> {
                throw new SQLException("the source is gone", "08006");
            }, (rows, bytes) -> { })).hasMessage("the source is gone");

            assertCancelledAndUsable(warehouse);
        }
    }

    @Test
    void aFeedThatFailsAfterWritingRowsCancelsTheCopy() throws SQLException {
        try (Connection warehouse = inTransaction()) {
            assertThatThrownBy(() -> CopyPipe.copyIn(warehouse, "COPY landed FROM STDIN", copy -> {
                byte[] rows = "1\t1\n2\t2\n".getBytes(StandardCharsets.UTF_8);
                copy.writeToCopy(rows, 0, rows.length);
                throw new IllegalStateException("the change stream broke");
            })).hasMessage("the change stream broke");

            assertCancelledAndUsable(warehouse);
        }
    }

    @Test
    void aFeedThatEndsCompletesTheCopyWithItsRows() throws SQLException {
        try (Connection warehouse = inTransaction()) {
            long rows = CopyPipe.copyIn(warehouse, "COPY landed FROM STDIN", copy -> {
                byte[] text = "1\t1\n2\t2\n".getBytes(StandardCharsets.UTF_8);
                copy.writeToCopy(text, 0, text.length);
            });

            assertThat(rows).isEqualTo(2);
            assertThat(value(warehouse, "SELECT count(*) FROM landed")).isEqualTo(2);
            warehouse.rollback();
        }
    }

    private static Connection inTransaction() throws SQLException {
        Connection connection = database.connect();
        connection.setAutoCommit(false);
        return connection;
    }

    /** The transaction failed with the COPY (a completed COPY would have left it open to commit), and rolls back to an empty table. */
    private static void assertCancelledAndUsable(Connection warehouse) throws SQLException {
        assertThatThrownBy(() -> value(warehouse, "SELECT 1")).isInstanceOfSatisfying(SQLException.class,
            e -> assertThat(e.getSQLState()).as("current transaction is aborted").isEqualTo("25P02"));
        warehouse.rollback();
        assertThat(value(warehouse, "SELECT count(*) FROM landed")).isZero();
        assertThat(database.count("landed")).isZero();
    }

    private static long value(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement(); var rs = statement.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
