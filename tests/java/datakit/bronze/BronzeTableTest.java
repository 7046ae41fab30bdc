package datakit.bronze;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class BronzeTableTest {
    private static final Pattern CREATED = Pattern.compile(
        "CREATE (?:OR REPLACE )?(?:TABLE|VIEW|MATERIALIZED VIEW) (?:IF NOT EXISTS )?\\$\\{flyway:defaultSchema}\\.(\\w+)");

    @Test
    void everyTableAndViewTheMigrationsCreateIsReserved() throws IOException {
        var created = new HashSet<String>(Set.of("flyway_schema_history"));
        try (Stream<Path> files = Files.list(Path.of("migrations"))) {
            for (Path file : files.toList()) {
                CREATED.matcher(Files.readString(file)).results().forEach(m -> created.add(m.group(1)));
            }
        }
        assertThat(created).contains("extraction_runs", "extraction_json_keys", "_bronze_rejects");
        assertThat(created).allMatch(BronzeTable::isReserved);
    }

    @Test
    void theDatakitsOwnWorkingTablesAreReservedAndOrdinaryNamesAreNot() {
        assertThat(BronzeTable.isReserved("_bronze_staging_1234abcd_0000")).isTrue();
        assertThat(BronzeTable.isReserved("_bronze_part_1234abcd_0001")).isTrue();
        assertThat(BronzeTable.isReserved("orders")).isFalse();
        assertThat(BronzeTable.isReserved("extraction_jobs")).isFalse();
        assertThat(BronzeTable.isReserved("bronze_orders")).isFalse();
    }
}
