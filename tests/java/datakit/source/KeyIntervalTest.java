package datakit.source;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class KeyIntervalTest {

    static KeyInterval.RangeBound bound(List<String> lower, List<String> upper) {
        return new KeyInterval.RangeBound(lower, upper);
    }

    @Test
    void rangeBoundsSplitIntoTheirValuesAtTheCommasOutsideQuotes() {
        assertThat(KeyInterval.rangeValues("FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')"))
            .contains(bound(List.of("'2026-01-01'"), List.of("'2026-02-01'")));
        assertThat(KeyInterval.rangeValues("FOR VALUES FROM (2025, 7) TO (2026, MINVALUE)"))
            .contains(bound(List.of("2025", "7"), List.of("2026", "MINVALUE")));
        assertThat(KeyInterval.rangeValues("FOR VALUES FROM ('a, b'' ) TO (') TO (MAXVALUE)"))
            .contains(bound(List.of("'a, b'' ) TO ('"), List.of("MAXVALUE")));
        assertThat(KeyInterval.rangeValues("FOR VALUES FROM (B'0000') TO (B'1000')"))
            .contains(bound(List.of("B'0000'"), List.of("B'1000'")));
    }

    @Test
    void backslashesDelimitNothingWhateverStandardConformingStringsSays() {
        // The value x\ as pg_get_expr prints it with standard_conforming_strings on ('x\') and off ('x\\'): never E''.
        assertThat(KeyInterval.rangeValues("FOR VALUES FROM ('x\\', 1) TO ('z', 2)"))
            .contains(bound(List.of("'x\\'", "1"), List.of("'z'", "2")));
        assertThat(KeyInterval.rangeValues("FOR VALUES FROM ('x\\\\', 1) TO ('a\\\\b''c, d', 2)"))
            .contains(bound(List.of("'x\\\\'", "1"), List.of("'a\\\\b''c, d'", "2")));
    }

    @Test
    void otherBoundsHaveNoRangeValues() {
        assertThat(KeyInterval.rangeValues("DEFAULT")).isEmpty();
        assertThat(KeyInterval.rangeValues("FOR VALUES IN ('eu')")).isEmpty();
        assertThat(KeyInterval.rangeValues("FOR VALUES WITH (modulus 3, remainder 0)")).isEmpty();
    }
}
