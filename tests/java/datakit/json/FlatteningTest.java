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

    @Test
    void rowsAddedToATableLandInTheBronzeColumnThatHoldsTheSampledTypesElseInTheTypeTheSampleGives() {
        var bronze = Map.of("payload__a", column("a", "numeric"), "payload__b", column("b", "numeric", "boolean"),
            "payload__c", column("c", "numeric"), "payload__d", column("d", "jsonb"), "payload__e", column("e", "numeric", "jsonb"),
            "payload__f", column("f", "character varying(20)"), "payload__g", column("g", "boolean"),
            "payload__h", column("h", "numeric", "text", "jsonb"));

        var columns = Flattening.columns(new FlattenSpec("payload", List.of(), 1), "\"payload\"", List.of(
                key(List.of("a"), Map.of("number", 3L, "null", 1L)),
                key(List.of("b"), Map.of("string", 2L)),
                key(List.of("c"), Map.of("number", 2L, "string", 1L)),
                key(List.of("d"), Map.of("number", 1L)),
                key(List.of("e"), Map.of("string", 1L)),
                key(List.of("f"), Map.of("string", 1L)),
                key(List.of("g"), Map.of("null", 1L)),
                key(List.of("h"), Map.of("string", 1L))), bronze);

        assertThat(columns.stream().map(c -> c.name() + " " + c.type() + (c.vacant() ? " NULL" : "")).toList())
            .as("a: held; b: changed, to text (a new variant), its boolean variant NULL; c: mixed, jsonb as a replace makes it; "
                + "d: jsonb holds numbers; e: its jsonb variant holds strings; f: text widens the varchar in place; g: nulls say nothing; "
                + "h: its text variant, the jsonb one NULL")
            .containsExactly("payload__a numeric", "payload__b text", "payload__b__v_boolean boolean NULL", "payload__c jsonb",
                "payload__d jsonb", "payload__e jsonb", "payload__f text", "payload__g boolean", "payload__h text",
                "payload__h__v_jsonb jsonb NULL");
        assertThat(columns.stream().filter(Flattening.FlatColumn::vacant).map(Flattening.FlatColumn::expression))
            .containsExactly("NULL::boolean", "NULL::jsonb");
    }

    /** A bronze column of the key {@code payload__<key>}, with variant columns of these types. */
    static Flattening.BronzeColumn column(String key, String type, String... variantTypes) {
        var variants = new java.util.LinkedHashMap<String, String>();
        for (String variant : variantTypes) {
            variants.put(variant, "payload__" + key + "__v_" + variant);
        }
        return new Flattening.BronzeColumn(type, variants);
    }
}
