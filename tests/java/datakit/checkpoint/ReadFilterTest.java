package datakit.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A checkpoint fits a run that reads the same rows and, only if the user chose them, the same columns; in both text forms. */
class ReadFilterTest {
    private static final ReadFilter EVERYTHING = new ReadFilter(Optional.empty(), List.of());
    private static final ReadFilter OPEN_ROWS = new ReadFilter(Optional.of("status <> 'x'"), List.of());
    private static final ReadFilter CHOSEN = new ReadFilter(Optional.of("status <> 'x'"), List.of("id", "updated_at"));

    @Test
    void theTextSaysWhetherColumnsWereChosen() {
        assertThat(EVERYTHING.text()).isEqualTo("all rows; every column");
        assertThat(OPEN_ROWS.text()).isEqualTo("where status <> 'x'; every column");
        assertThat(CHOSEN.text()).isEqualTo("where status <> 'x'; --columns id,updated_at");
    }

    @Test
    void aFilterOfThePresentFormFitsTheSameRowsAndChosenColumnsOnly() {
        assertThat(EVERYTHING.fits("all rows; every column")).isTrue();
        assertThat(CHOSEN.fits("where status <> 'x'; --columns id,updated_at")).isTrue();

        assertThat(EVERYTHING.fits("where status <> 'x'; every column")).as("other rows").isFalse();
        assertThat(OPEN_ROWS.fits("all rows; every column")).as("other rows").isFalse();
        assertThat(CHOSEN.fits("where status <> 'x'; every column")).as("columns chosen now, not then").isFalse();
        assertThat(OPEN_ROWS.fits("where status <> 'x'; --columns id,updated_at")).as("columns chosen then, not now").isFalse();
        assertThat(CHOSEN.fits("where status <> 'x'; --columns id,status,updated_at")).as("other columns chosen").isFalse();
    }

    @Test
    void anOldFilterListingTheColumnsReadFitsARunWithoutColumnsWhateverTheColumnsAreNow() {
        assertThat(EVERYTHING.fits("all rows; columns id,status,updated_at")).isTrue();
        assertThat(EVERYTHING.fits("all rows; columns id")).as("it cannot tell --columns id from a table of one column").isTrue();
        assertThat(OPEN_ROWS.fits("where status <> 'x'; columns id,status,updated_at")).isTrue();

        assertThat(EVERYTHING.fits("where status <> 'x'; columns id,status,updated_at")).as("other rows").isFalse();
        assertThat(OPEN_ROWS.fits("where status <> 'y'; columns id,status,updated_at")).as("other rows").isFalse();
        assertThat(OPEN_ROWS.fits("all rows; columns id,status,updated_at")).as("other rows").isFalse();
    }

    @Test
    void anOldFilterFitsARunWithColumnsOnlyIfItListsTheSameColumns() {
        assertThat(CHOSEN.fits("where status <> 'x'; columns id,updated_at")).isTrue();
        assertThat(CHOSEN.fits("where status <> 'x'; columns id,status,updated_at")).isFalse();
        assertThat(CHOSEN.fits("all rows; columns id,updated_at")).isFalse();
    }

    @Test
    void anOldFilterTellsTheColumnsItsRunRead() {
        assertThat(ReadFilter.columnsListed("where status <> 'x'; columns id,status,updated_at")).containsExactly("id", "status", "updated_at");
        assertThat(ReadFilter.columnsListed("all rows; every column")).isEmpty();
        assertThat(ReadFilter.columnsListed("")).isEmpty();
    }

    @Test
    void aCheckpointKeepsTheColumnsItsRunReadAndAnOldOneTakesThemFromItsFilter() {
        var cursor = new CursorCheckpoint("updated_at", "date", List.of("id"), Optional.of(new Position("2026-01-01", List.of("7"))),
            "all rows; every column", Map.of("id", "h1", "note", "", "updated_at", "h3"));
        var xmin = new XminCheckpoint("900:900:", Optional.of(XidRanges.NONE), "all rows; every column", ordered("id", "h1", "body", "h2"));

        assertThat(CheckpointStore.read(CheckpointStore.write(cursor))).isEqualTo(cursor);
        assertThat(CheckpointStore.read(CheckpointStore.write(xmin))).isEqualTo(xmin);
        assertThat(CheckpointStore.write(xmin)).contains("\"columns\":{\"id\":\"h1\",\"body\":\"h2\"}");
        assertThat(CheckpointStore.read("{\"mode\": \"xmin\", \"snapshot\": \"10:20:\", \"seen\": [], \"filter\": \"all rows; columns id,body\"}")
            .columnsRead()).containsExactly(Map.entry("id", ""), Map.entry("body", ""));
    }

    /** Columns with their schema hashes, in the order given. */
    private static Map<String, String> ordered(String... nameThenHash) {
        var columns = new LinkedHashMap<String, String>();
        for (int i = 0; i < nameThenHash.length; i += 2) {
            columns.put(nameThenHash[i], nameThenHash[i + 1]);
        }
        return columns;
    }
}
