package datakit.run;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.bronze.Landing;
import datakit.bronze.LandingColumn;
import datakit.source.LargeObjects;
import datakit.source.ReadPlan;
import datakit.source.Selection;
import datakit.source.SourceColumn;
import datakit.sql.TableRef;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A read plan as the bronze side receives it: what lands, where it came from, what is checked. */
class LandingsTest {

    @Test
    void aPlanLandsAsItsColumnsWithTheirTypesItsOriginAndItsChecks() {
        TableRef docs = TableRef.of("sales", "docs");
        var plan = new ReadPlan(Selection.table(docs), Optional.of(docs), List.of(
                new SourceColumn("id", "integer", "integer", false, Optional.empty(), Optional.empty()),
                new SourceColumn("state", "sales.state", "text", true, Optional.of("enum sales.state lands as text"), Optional.empty()),
                new SourceColumn("body", "text", "text", false, Optional.empty(), Optional.empty()),
                new SourceColumn("doc", "oid", "oid", false, Optional.empty(), Optional.empty()),
                new SourceColumn("doc__content", "large object", "bytea", false, Optional.empty(), Optional.of("lo_get(doc)"))),
            "COPY ... TO STDOUT (FORMAT binary)", 10, false, List.of(),
            new ReadPlan.Checks(List.of("body"), new LargeObjects(List.of("doc"), 1024), List.of("id")));

        Landing landing = Landings.of(plan);

        assertThat(landing.origin()).isEqualTo("sales.docs");
        assertThat(landing.sourceTable()).contains(docs);
        assertThat(landing.columns()).containsExactly(new LandingColumn("id", "integer", "integer"),
            new LandingColumn("state", "text", "sales.state"), new LandingColumn("body", "text", "text"),
            new LandingColumn("doc", "oid", "oid"), new LandingColumn("doc__content", "bytea", "large object"));
        assertThat(landing.checks()).isEqualTo(new Landing.Checks(List.of("body"), List.of(new Landing.LargeObject("doc", "doc__content")),
            1024, List.of("id")));
    }
}
