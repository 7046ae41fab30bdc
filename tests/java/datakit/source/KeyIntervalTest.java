package datakit.source;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class KeyIntervalTest {

    @Test
    void rangeBoundsSplitIntoTheirValuesAtTheCommasOutsideQuotes() {
        assertThat(KeyInterval.rangeValues("FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')"))
            .contains(List.of(List.of("'2026-01-01'"), List.of("'2026-02-01'")));
        assertThat(KeyInterval.rangeValues("FOR VALUES FROM (2025, 7) TO (2026, MINVALUE)"))
            .contains(List.of(List.of("2025", "7"), List.of("2026", "MINVALUE")));
        assertThat(KeyInterval.rangeValues("FOR VALUES FROM ('a, b'' ) TO (') TO (MAXVALUE)"))
            .contains(List.of(List.of("'a, b'' ) TO ('"), List.of("MAXVALUE")));
        assertThat(KeyInterval.rangeValues("FOR VALUES FROM (E'x\\', y') TO ('z')"))
            .contains(List.of(List.of("E'x\\', y'"), List.of("'z'")));
        assertThat(KeyInterval.rangeValues("FOR VALUES FROM (E'x\\\\', 1) TO ('z', 2)"))
            .contains(List.of(List.of("E'x\\\\'", "1"), List.of("'z'", "2")));
    }

    @Test
    void otherBoundsHaveNoRangeValues() {
        assertThat(KeyInterval.rangeValues("DEFAULT")).isEmpty();
        assertThat(KeyInterval.rangeValues("FOR VALUES IN ('eu')")).isEmpty();
        assertThat(KeyInterval.rangeValues("FOR VALUES WITH (modulus 3, remainder 0)")).isEmpty();
    }
}
