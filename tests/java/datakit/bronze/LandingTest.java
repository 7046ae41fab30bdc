package datakit.bronze;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.sql.TableRef;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The SQL a landing gives the bronze side: its columns quoted, in order, and the binary COPY they arrive by. */
class LandingTest {
    private static final Landing ORDERS = new Landing("sales.orders", Optional.of(TableRef.of("sales", "orders")),
        List.of(new LandingColumn("id", "bigint", "bigint"), new LandingColumn("Status", "text", "sales.status")),
        new Landing.Checks(List.of(), List.of(), 0, List.of()));

    @Test
    void theCopyNamesEveryColumnInOrderAndReadsBinaryIntoATableOfThisTransaction() {
        assertThat(ORDERS.copyInto(TableRef.of("bronze", "orders")))
            .isEqualTo("COPY \"bronze\".\"orders\" (\"id\", \"Status\") FROM STDIN (FORMAT binary, FREEZE)");
    }

    @Test
    void theDefinitionsGiveEachColumnItsBronzeType() {
        assertThat(ORDERS.definitions()).isEqualTo("\"id\" bigint, \"Status\" text");
        assertThat(ORDERS.names()).containsExactly("id", "Status");
    }
}
