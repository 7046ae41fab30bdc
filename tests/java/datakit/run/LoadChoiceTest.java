package datakit.run;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.sql.TableRef;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The rule that picks a table's datakit, on tables described as postgres-discover reads them. */
class LoadChoiceTest {
    static final LoadChoice.Column ID = new LoadChoice.Column("id", "integer", false);
    static final LoadChoice.Column UPDATED = new LoadChoice.Column("updated_at", "timestamp with time zone", false);
    static final LoadChoice.Candidate UPDATED_INDEXED = new LoadChoice.Candidate("updated_at", "timestamp with time zone", "leads an index");
    static final LoadChoice.Candidate ID_INDEXED = new LoadChoice.Candidate("id", "integer", "leads an index");

    static LoadChoice.Table table(boolean partitioned, long bytes, List<String> key, List<LoadChoice.Column> columns,
                                  List<LoadChoice.Candidate> candidates) {
        return new LoadChoice.Table(TableRef.of("shop", "t"), partitioned, bytes, key, columns, candidates, 100);
    }

    @Test
    void aTimeCursorAndAKeyMakeAnIncrementalMergeOnTheCursor() {
        var choice = LoadChoice.of(table(false, 1000, List.of("id"), List.of(ID, UPDATED), List.of(UPDATED_INDEXED, ID_INDEXED)), Optional.empty());
        assertThat(choice.datakit()).isEqualTo("postgres-incremental");
        assertThat(choice.options(TableRef.of("shop", "t"))).hasToString("{table=shop.t, cursor-field=updated_at, mode=merge}");
        assertThat(choice.why()).startsWith("updated_at (timestamp with time zone) leads an index, and the primary key is id:");
        assertThat(choice.notes()).isEmpty();
    }

    @Test
    void anIntegerCandidateIsNeverTheCursorSinceItMissesUpdates() {
        var choice = LoadChoice.of(table(false, 1000, List.of("id"), List.of(ID), List.of(ID_INDEXED)), Optional.empty());
        assertThat(choice.xmin()).isTrue();
        assertThat(choice.cursorField()).isEmpty();
        assertThat(choice.notes()).singleElement().asString().startsWith("id could be a cursor only if every insert and update raises it");
    }

    @Test
    void aBigPartitionedTableWithoutATimeCursorIsLoadedPartByPartAndASmallOneByXmin() {
        var big = table(true, LoadChoice.PARTITIONED_FROM_BYTES, List.of("id"), List.of(ID), List.of());
        assertThat(LoadChoice.of(big, Optional.empty()).datakit()).isEqualTo("postgres-partitioned");
        assertThat(LoadChoice.of(big, Optional.empty()).options(TableRef.of("shop", "t"))).containsOnlyKeys("table");
        var small = table(true, LoadChoice.PARTITIONED_FROM_BYTES - 1, List.of("id"), List.of(ID), List.of());
        assertThat(LoadChoice.of(small, Optional.empty()).xmin()).isTrue();
        var bigWithCursor = table(true, LoadChoice.PARTITIONED_FROM_BYTES, List.of("id"), List.of(ID, UPDATED), List.of(UPDATED_INDEXED));
        assertThat(LoadChoice.of(bigWithCursor, Optional.empty()).cursorField()).contains("updated_at");
    }

    @Test
    void withoutAKeyOnlyAFullCopyIsSafe() {
        var choice = LoadChoice.of(table(false, 1000, List.of(), List.of(ID, UPDATED), List.of(UPDATED_INDEXED)), Optional.empty());
        assertThat(choice.datakit()).isEqualTo("postgres-extract");
        assertThat(choice.why()).startsWith("no primary key, and postgres-incremental needs one in every mode");
    }

    @Test
    void aNamedCursorWinsWhereTheTableHasItAndANullableOrDateCursorIsExplained() {
        var edited = new LoadChoice.Column("edited", "timestamp without time zone", true);
        var day = new LoadChoice.Column("day", "date", false);
        var t = table(false, 1000, List.of("id"), List.of(ID, UPDATED, edited, day), List.of(UPDATED_INDEXED));
        var named = LoadChoice.of(t, Optional.of("edited"));
        assertThat(named.cursorField()).contains("edited");
        assertThat(named.why()).contains("edited (timestamp without time zone) was named as the cursor");
        assertThat(named.notes()).singleElement().asString().startsWith("edited allows NULL: rows with NULL there are read again");
        assertThat(LoadChoice.of(t, Optional.of("missing")).cursorField()).contains("updated_at");
        var byDay = LoadChoice.of(t, Optional.of("day"));
        assertThat(byDay.lookback()).contains("P1D");
        assertThat(byDay.options(TableRef.of("shop", "t"))).containsEntry("lookback", "P1D");
    }
}
