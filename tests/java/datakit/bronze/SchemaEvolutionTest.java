package datakit.bronze;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import datakit.error.DatakitException;
import datakit.error.ExitCode;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The rules every mode follows when the source's columns no longer match bronze's, worked out from the two lists alone. */
class SchemaEvolutionTest {
    /** bronze.orders as the last load left it: id, amount integer, status text, a metadata column. */
    private static final Map<String, String> BRONZE = columns("id", "integer", "amount", "integer", "status", "text",
        "_bronze_loaded_at", "timestamp with time zone");

    private static Map<String, String> columns(String... nameThenType) {
        var columns = new LinkedHashMap<String, String>();
        for (int i = 0; i < nameThenType.length; i += 2) {
            columns.put(nameThenType[i], nameThenType[i + 1]);
        }
        return columns;
    }

    private static Landing landing(String... nameThenType) {
        var columns = columns(nameThenType).entrySet().stream().map(c -> new LandingColumn(c.getKey(), c.getValue(), c.getValue())).toList();
        return new Landing("shop.orders", Optional.empty(), columns, new Landing.Checks(List.of(), List.of(), 0, List.of()),
            List.of("payload__"));
    }

    private static SchemaEvolution evolve(WriteMode mode, Landing landing) {
        return SchemaEvolution.of(Optional.of(BRONZE), landing, mode, SchemaPolicy.EVOLVE);
    }

    @Test
    void aNewTableHasNothingToFollow() {
        var first = SchemaEvolution.of(Optional.empty(), landing("id", "bigint"), WriteMode.APPEND, SchemaPolicy.FAIL);
        assertThat(first.changes()).isEmpty();
        assertThat(first.landsIn()).containsExactly(Map.entry("id", "id"));
    }

    @Test
    void anAddedColumnIsAddedAndADroppedOneKeptAndClearedWhereAMergeWrites() {
        var evolution = evolve(WriteMode.MERGE, landing("id", "integer", "amount", "integer", "note", "text"));
        assertThat(evolution.changes()).containsExactly(SchemaChange.added("note", "text"), SchemaChange.dropped("status", "text"));
        assertThat(evolution.alterations(BRONZE)).containsExactly(SchemaChange.added("note", "text"));
        assertThat(evolution.cleared()).containsExactly("status");
        assertThat(evolution.landsIn()).containsOnlyKeys("id", "amount", "note");
    }

    @Test
    void aWideningIsAppliedInPlaceAndANarrowingLoadsIntoTheWiderColumn() {
        var evolution = evolve(WriteMode.APPEND, landing("id", "bigint", "amount", "smallint", "status", "character varying(20)"));
        assertThat(evolution.changes()).containsExactly(new SchemaChange("id", SchemaChange.Kind.WIDENED, Optional.of("integer"),
            Optional.of("bigint"), Optional.of("id")));
        assertThat(evolution.landsIn()).containsEntry("amount", "amount").containsEntry("status", "status");
    }

    @Test
    void aTypeThatCannotWidenLandsInAVariantColumnWhileAReplaceRebuildsWithIt() {
        var changed = landing("id", "integer", "amount", "text", "status", "text");
        var append = evolve(WriteMode.APPEND, changed);
        assertThat(append.changes()).containsExactly(new SchemaChange("amount", SchemaChange.Kind.VARIANT, Optional.of("integer"),
            Optional.of("text"), Optional.of("amount__v_text")));
        assertThat(append.landsIn()).containsEntry("amount", "amount__v_text");
        assertThat(append.cleared()).containsExactly("amount");

        var next = SchemaEvolution.of(Optional.of(columns("id", "integer", "amount", "integer", "status", "text", "amount__v_text", "text")),
            changed, WriteMode.APPEND, SchemaPolicy.EVOLVE);
        assertThat(next.alterations(columns("id", "integer", "amount", "integer", "status", "text", "amount__v_text", "text")))
            .as("the variant column exists: nothing more changes").isEmpty();
        assertThat(next.landsIn()).containsEntry("amount", "amount__v_text");

        var back = SchemaEvolution.of(Optional.of(columns("id", "integer", "amount", "integer", "status", "text", "amount__v_text", "text")),
            landing("id", "integer", "amount", "integer", "status", "text"), WriteMode.MERGE, SchemaPolicy.EVOLVE);
        assertThat(back.landsIn()).containsEntry("amount", "amount");
        assertThat(back.cleared()).as("the type went back: a merge clears the variant column").containsExactly("amount__v_text");
        assertThat(back.changes()).as("said once: the values land in their column again").containsExactly(new SchemaChange("amount",
            SchemaChange.Kind.VARIANT, Optional.of("text"), Optional.of("integer"), Optional.of("amount")));

        assertThat(evolve(WriteMode.REPLACE, changed).changes()).containsExactly(new SchemaChange("amount", SchemaChange.Kind.RETYPED,
            Optional.of("integer"), Optional.of("text"), Optional.of("amount")));
    }

    @Test
    void keysFlattenedFromJsonComeAndGoWithoutBeingSaidDropped() {
        var bronze = new LinkedHashMap<>(BRONZE);
        bronze.put("payload__n", "numeric");
        var evolution = SchemaEvolution.of(Optional.of(bronze), landing("id", "integer", "amount", "integer", "status", "text"),
            WriteMode.MERGE, SchemaPolicy.EVOLVE);
        assertThat(evolution.changes()).isEmpty();
    }

    @Test
    void failRefusesEveryChangeAndFreezeOnlyTypesTheKnownColumnsCannotHold() {
        var added = landing("id", "integer", "amount", "integer", "status", "text", "note", "text");
        assertThatThrownBy(() -> SchemaEvolution.of(Optional.of(BRONZE), added, WriteMode.APPEND, SchemaPolicy.FAIL))
            .isInstanceOfSatisfying(DatakitException.class, e -> {
                assertThat(e.exitCode()).isEqualTo(ExitCode.NOT_READY);
                assertThat(e.getMessage()).isEqualTo("The columns of shop.orders changed: note is new (text); --on-schema-change fail "
                    + "stops the stream before anything is written. Rerun with --on-schema-change evolve to follow the change, or freeze "
                    + "to keep loading the columns bronze has.");
                assertThat(e.details()).containsKey("schema_changes_refused");
            });

        var frozen = SchemaEvolution.of(Optional.of(BRONZE), added, WriteMode.APPEND, SchemaPolicy.FREEZE);
        assertThat(frozen.changes()).extracting(SchemaChange::kind).containsExactly(SchemaChange.Kind.IGNORED);
        assertThat(frozen.landsIn()).doesNotContainKey("note");
        assertThatThrownBy(() -> SchemaEvolution.of(Optional.of(BRONZE), landing("id", "bigint", "amount", "integer", "status", "text"),
            WriteMode.APPEND, SchemaPolicy.FREEZE)).hasMessageContaining("id went from integer to bigint");
    }

    @Test
    void variantNamesFitPostgresNames() {
        assertThat(SchemaEvolution.variantName("amount", "timestamp(3) with time zone")).isEqualTo("amount__v_timestamp_3_with_time_zone");
        String longName = String.join("", Arrays.asList("x".repeat(60)));
        assertThat(SchemaEvolution.variantName(longName, "text").getBytes()).hasSizeLessThanOrEqualTo(63);
    }
}
