package datakit.db;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.config.Role;
import datakit.sql.TableRef;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/** The server's messages as PostgreSQL 15 words them: names unquoted, except in the messages about connecting and temporary tables. */
class GrantsTest {

    @Test
    void eachPermissionErrorGetsTheStatementThatGivesTheRight() {
        assertThat(Grants.fix("permission denied for schema sales", "", Role.SOURCE, "reader", Optional.empty()))
            .contains("GRANT USAGE ON SCHEMA sales TO reader;");
        assertThat(Grants.fix("permission denied for schema bronze", "", Role.WAREHOUSE, "loader", Optional.empty()))
            .contains("GRANT USAGE, CREATE ON SCHEMA bronze TO loader;");
        assertThat(Grants.fix("permission denied for database \"Shop\"", "User does not have CONNECT privilege.", Role.SOURCE, "Reader",
            Optional.empty())).contains("GRANT CONNECT ON DATABASE \"Shop\" TO \"Reader\";");
        assertThat(Grants.fix("permission denied for database wh", "", Role.WAREHOUSE, "loader", Optional.empty()))
            .contains("GRANT CREATE ON DATABASE wh TO loader;");
        assertThat(Grants.fix("permission denied to create temporary tables in database \"wh\"", "", Role.WAREHOUSE, "loader",
            Optional.empty())).contains("GRANT TEMPORARY ON DATABASE wh TO loader;");
        assertThat(Grants.fix("permission denied for table orders", "", Role.SOURCE, "reader", Optional.of(TableRef.of("sales", "orders"))))
            .contains("GRANT SELECT ON sales.orders TO reader;");
        assertThat(Grants.fix("must be owner of table orders", "", Role.WAREHOUSE, "loader", Optional.empty()))
            .contains("ALTER TABLE orders OWNER TO loader;");
        assertThat(Grants.fix("permission denied for large object 16385", "", Role.SOURCE, "reader", Optional.empty()))
            .contains("GRANT SELECT ON LARGE OBJECT 16385 TO reader;");
        assertThat(Grants.fix("division by zero", "", Role.SOURCE, "reader", Optional.empty())).isEmpty();
    }

    @Test
    void aNameWithASpaceIsGrantedWhole() {
        assertThat(Grants.fix("permission denied for schema My Schema", "", Role.SOURCE, "Read Er", Optional.empty()))
            .contains("GRANT USAGE ON SCHEMA \"My Schema\" TO \"Read Er\";");
        assertThat(Grants.fix("permission denied for table Big Orders", "", Role.SOURCE, "reader",
            Optional.of(TableRef.of("My Schema", "Big Orders")))).contains("GRANT SELECT ON \"My Schema\".\"Big Orders\" TO reader;");
        assertThat(Grants.fix("permission denied for database Ware House", "", Role.WAREHOUSE, "loader", Optional.empty()))
            .contains("GRANT CREATE ON DATABASE \"Ware House\" TO loader;");
        assertThat(Grants.fix("permission denied for database \"Ware House\"", "User does not have CONNECT privilege.", Role.WAREHOUSE,
            "loader", Optional.empty())).contains("GRANT CONNECT ON DATABASE \"Ware House\" TO loader;");
    }

    @Test
    void theServersErrorIsReadFromTheDriversException() {
        var refused = new PSQLException(new ServerErrorMessage("SERROR\0C42501\0Mpermission denied for schema My Schema\0"));

        assertThat(Grants.fix(new IllegalStateException("wrapped", refused), Role.WAREHOUSE, "loader", Optional.empty()))
            .contains("GRANT USAGE, CREATE ON SCHEMA \"My Schema\" TO loader;");
    }
}
