package datakit.db;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.config.Role;
import datakit.sql.TableRef;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Reviewer's probe: the server names schemas, tables and databases unquoted in these messages (PostgreSQL 15's exact text). */
class GrantsReviewProbeTest {

    @Test
    void aNameWithASpaceIsGrantedWhole() {
        assertThat(Grants.fix("permission denied for schema My Schema", Role.SOURCE, "Read Er", Optional.empty()))
            .contains("GRANT USAGE ON SCHEMA \"My Schema\" TO \"Read Er\";");
        assertThat(Grants.fix("permission denied for table Big Orders", Role.SOURCE, "reader",
            Optional.of(TableRef.of("My Schema", "Big Orders")))).contains("GRANT SELECT ON \"My Schema\".\"Big Orders\" TO reader;");
        assertThat(Grants.fix("permission denied for database Ware House", Role.WAREHOUSE, "loader", Optional.empty()))
            .contains("GRANT CREATE ON DATABASE \"Ware House\" TO loader;");
    }
}
