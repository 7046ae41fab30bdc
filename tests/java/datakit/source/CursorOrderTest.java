package datakit.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.checkpoint.Position;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CursorOrderTest {
    static final CursorOrder ORDERS = new CursorOrder(Optional.of(new CursorOrder.Typed("updated_at", "timestamp with time zone")),
        List.of(new CursorOrder.Typed("id", "bigint")));
    static final Position AT = new Position("2026-11-21 10:00:00+00", List.of("42"));

    @Test
    void aStretchStartsAfterAPositionOfCursorAndKeyAsTypedLiterals() {
        assertThat(ORDERS.after(AT)).isEqualTo("(\"updated_at\", \"id\") > ('2026-11-21 10:00:00+00'::timestamp with time zone, "
            + "'42'::bigint)");
        assertThat(ORDERS.upTo(AT)).isEqualTo("(\"updated_at\", \"id\") <= ('2026-11-21 10:00:00+00'::timestamp with time zone, "
            + "'42'::bigint)");
    }

    @Test
    void cursorPredicatesNameTheCursorOnly() {
        assertThat(ORDERS.atLeast("2026-01-01")).isEqualTo("\"updated_at\" >= '2026-01-01'::timestamp with time zone");
        assertThat(ORDERS.lookback(AT, Duration.ofMinutes(5))).isEqualTo("\"updated_at\" >= '2026-11-21 10:00:00+00'::timestamp with "
            + "time zone - '300000 milliseconds'::interval");
        assertThat(ORDERS.isNull()).isEqualTo("\"updated_at\" IS NULL");
        assertThat(ORDERS.isNotNull()).isEqualTo("\"updated_at\" IS NOT NULL");
    }

    @Test
    void literalsAreEscapedAndNamesQuoted() {
        var order = new CursorOrder(Optional.of(new CursorOrder.Typed("Code\"x", "text")), List.of());
        assertThat(order.atLeast("o'brien")).isEqualTo("\"Code\"\"x\" >= 'o''brien'::text");
    }

    @Test
    void theHighestPositionAndTheBoundariesSelectCursorAndKeyAsText() {
        assertThat(ORDERS.highest("\"public\".\"orders\"", " WHERE x")).isEqualTo("SELECT \"updated_at\"::text AS _bronze_position_0, "
            + "\"id\"::text AS _bronze_position_1 FROM \"public\".\"orders\" WHERE x ORDER BY \"updated_at\" DESC, \"id\" DESC LIMIT 1");
        assertThat(ORDERS.boundaries("t", " WHERE x", 1000)).isEqualTo("SELECT \"updated_at\"::text AS _bronze_position_0, "
            + "\"id\"::text AS _bronze_position_1 FROM (SELECT \"updated_at\", \"id\", row_number() OVER (ORDER BY \"updated_at\", \"id\") "
            + "AS _bronze_rank FROM t WHERE x) AS ranked WHERE _bronze_rank % 1000 = 0 ORDER BY _bronze_rank");
        assertThat(ORDERS.isAfter(AT, new Position("2026-11-21 10:00:00+00", List.of("7")))).isEqualTo("SELECT "
            + "('2026-11-21 10:00:00+00'::timestamp with time zone, '42'::bigint) > ('2026-11-21 10:00:00+00'::timestamp with time zone, "
            + "'7'::bigint)");
    }

    @Test
    void xminModeHasNoCursorToWrite() {
        var xmin = new CursorOrder(Optional.empty(), List.of(new CursorOrder.Typed("id", "bigint")));
        assertThrows(IllegalStateException.class, xmin::isNotNull);
    }
}
