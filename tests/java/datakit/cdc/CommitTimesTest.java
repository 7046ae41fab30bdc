package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class CommitTimesTest {
    @Test
    void everyCommitTimeReadsBackAsTheInstantItWas() {
        var times = new CommitTimes();
        for (String iso : List.of("2026-12-04T23:20:24.123456Z", "2026-12-04T23:20:24.000001Z", "2026-12-04T23:20:24Z",
            "2026-12-04T23:20:25.100Z", "2026-12-04T23:20:24.999999Z", "2000-01-01T00:00:00Z", "1969-12-31T23:59:59.5Z")) {
            Instant time = Instant.parse(iso);
            String text = new String(times.text(time), StandardCharsets.US_ASCII);
            assertThat(Instant.parse(text)).as(text).isEqualTo(time);
            assertThat(text).hasSize(27).endsWith("Z");
        }
    }
}
