package datakit.run;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What a dry run prints of its source SQL. */
class DryRunTest {

    @Test
    void aLongLiteralIsCutShortAndShortOnesStayWhole() {
        String ranges = "{" + "[1000,1000],".repeat(2_000) + "[5000,5000]}";
        String sql = "COPY (SELECT * FROM t WHERE note = 'it''s' AND NOT x <@ '" + ranges + "'::pg_catalog.int8multirange) TO STDOUT";

        String shown = DryRun.abbreviated(sql);

        assertThat(shown).startsWith("COPY (SELECT * FROM t WHERE note = 'it''s' AND NOT x <@ '{[1000,1000],[1000,1000],")
            .endsWith("…' /* 24,015 characters */::pg_catalog.int8multirange) TO STDOUT").hasSizeLessThan(200);
        assertThat(DryRun.abbreviated("SELECT 'short', 'it''s'")).isEqualTo("SELECT 'short', 'it''s'");
    }
}
