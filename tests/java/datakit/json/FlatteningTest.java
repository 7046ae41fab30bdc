package datakit.json;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The column rule of --flatten, on key types as the source would count them (paths in the server's order). */
class FlatteningTest {
    static KeyTypes key(List<String> path, Map<String, Long> counts) {
        return new KeyTypes(path, counts);
    }

    static List<String> columns(FlattenSpec spec, KeyTypes... keys) {
        return Flattening.columns(spec, "\"payload\"", List.of(keys)).stream().map(c -> c.name() + " " + c.type()).toList();
    }

    @Test
    void eachSingleTypeGetsItsColumnTypeAndNullsDoNotCount() {
        assertThat(columns(new FlattenSpec("payload", List.of(), 1),
            key(List.of("a"), Map.of("number", 3L, "null", 1L)),
            key(List.of("b"), Map.of("string", 2L)),
            key(List.of("c"), Map.of("boolean", 1L)),
            key(List.of("d"), Map.of("array", 1L)),
            key(List.of("e"), Map.of("null", 4L)),
            key(List.of("f"), Map.of("number", 1L, "string", 1L))))
            .containsExactly("payload__a numeric", "payload__b text", "payload__c boolean", "payload__d jsonb", "payload__e jsonb",
                "payload__f jsonb");
    }

    @Test
    void objectsAboveTheDepthAreOpenedAndAtTheDepthOrInAConflictStayWhole() {
        var objectThenLeaves = new KeyTypes[] {
            key(List.of("o"), Map.of("object", 2L)),
            key(List.of("o", "x"), Map.of("number", 2L)),
            key(List.of("p"), Map.of("object", 1L, "string", 1L)),
            key(List.of("p", "y"), Map.of("number", 1L))};

        assertThat(columns(new FlattenSpec("payload", List.of(), 2), objectThenLeaves))
            .as("p conflicts: one jsonb column, nothing below it").containsExactly("payload__o__x numeric", "payload__p jsonb");
        assertThat(columns(new FlattenSpec("payload", List.of(), 1), objectThenLeaves))
            .containsExactly("payload__o jsonb", "payload__p jsonb");
    }

    @Test
    void valuesAreLookedUpWithChainedArrowsAndCheckedForTheirType() {
        var column = Flattening.columns(new FlattenSpec("payload", List.of("c"), 2), "(\"payload\" -> 'c')",
            List.of(key(List.of("o'k", "n"), Map.of("string", 1L)))).get(0);

        assertThat(column.name()).isEqualTo("payload__c__o'k__n");
        assertThat(column.expression()).isEqualTo("CASE pg_catalog.jsonb_typeof((((\"payload\" -> 'c') -> 'o''k') -> 'n')) "
            + "WHEN 'string' THEN ((\"payload\" -> 'c') -> 'o''k') ->> 'n' END");
    }
}
