package datakit.db;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.error.ExitCode;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;

class SqlErrorsTest {

    @Test
    void aPreparedStatementThatTransactionPoolingMixedUpIsNeverAboutTheStatement() {
        assertThat(SqlErrors.aboutTheStatement(new SQLException("prepared statement \"S_1\" already exists", "42P05"))).isFalse();
        assertThat(SqlErrors.aboutTheStatement(new SQLException("prepared statement \"S_3\" does not exist", "26000"))).isFalse();
        assertThat(SqlErrors.aboutTheStatement(new SQLException("column \"x\" does not exist", "42703"))).isTrue();
        assertThat(SqlErrors.aboutTheStatement(new SQLException("cannot execute nextval() in a read-only transaction", "25006"))).isTrue();
    }

    @Test
    void aMixedUpPreparedStatementNamesPrepareThreshold() {
        var error = SqlErrors.failure("Planning the read of public.orders", new SQLException("prepared statement \"S_1\" already exists",
            "42P05"));

        assertThat(error.exitCode()).isEqualTo(ExitCode.BAD_INPUT);
        assertThat(error.getMessage()).isEqualTo("Planning the read of public.orders failed: prepared statement \"S_1\" already exists. A "
            + "connection pooler in transaction mode gave this transaction a server connection whose prepared statements belong to "
            + "another: leave prepareThreshold at the datakits' default, 0, in the JDBC URL.");
    }

    @Test
    void anUnsupportedStartupParameterIsPermanent() {
        var refused = new SQLException("ERROR: unsupported startup parameter: search_path", "08P01");

        assertThat(SqlErrors.unsupportedStartupParameter(refused)).contains("search_path");
        assertThat(Retry.isTransient(refused)).isFalse();
        assertThat(Retry.isTransient(new SQLException("Connection refused", "08001"))).isTrue();
    }
}
