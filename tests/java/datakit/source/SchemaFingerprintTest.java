package datakit.source;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.source.SchemaFingerprint.CatalogColumn;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How a table's catalog rows become the fingerprint of a read: which columns count, and what changes which hash. */
class SchemaFingerprintTest {
    static final CatalogColumn ID = new CatalogColumn(1, "id", false, "{\"attnum\" : 1, \"type\" : 23}");
    static final CatalogColumn STATUS = new CatalogColumn(2, "status", false, "{\"attnum\" : 2, \"labels\" : [[\"new\", 1]]}");
    static final CatalogColumn DROPPED = new CatalogColumn(3, "........pg.dropped.3........", true, "{\"attnum\" : 3}");
    static final CatalogColumn NOTE = new CatalogColumn(4, "note", false, "{\"attnum\" : 4, \"type\" : 25}");

    static SchemaFingerprint all(CatalogColumn... columns) {
        return SchemaFingerprint.of(List.of(columns), List.of());
    }

    @Test
    void theSameCatalogGivesTheSameHashesAndEachColumnReadHasOneInTheTablesOrder() {
        var fingerprint = all(ID, STATUS, DROPPED, NOTE);

        assertThat(all(ID, STATUS, DROPPED, NOTE)).isEqualTo(fingerprint);
        assertThat(fingerprint.hash()).hasSize(64).matches("[0-9a-f]+");
        assertThat(fingerprint.columns()).containsOnlyKeys("id", "status", "note");
        assertThat(fingerprint.columns().keySet()).containsExactly("id", "status", "note");
    }

    @Test
    void aChangedDescriptionChangesThatColumnsHashAndTheWholeOnly() {
        var before = all(ID, STATUS, NOTE);
        var relabelled = all(ID, new CatalogColumn(2, "status", false, "{\"attnum\" : 2, \"labels\" : [[\"sent\", 1]]}"), NOTE);

        assertThat(relabelled.hash()).isNotEqualTo(before.hash());
        assertThat(relabelled.columns().get("status")).isNotEqualTo(before.columns().get("status"));
        assertThat(relabelled.columns().get("id")).isEqualTo(before.columns().get("id"));
        assertThat(relabelled.columns().get("note")).isEqualTo(before.columns().get("note"));
    }

    @Test
    void aDroppedColumnChangesTheWholeHashButNoColumnsHash() {
        var before = all(ID, STATUS, NOTE);
        var withDropped = all(ID, STATUS, DROPPED, NOTE);

        assertThat(withDropped.hash()).isNotEqualTo(before.hash());
        assertThat(withDropped.columns()).isEqualTo(before.columns());
    }

    @Test
    void onlyTheSelectedColumnsCountAndTheDroppedOnesOfTheTableAlways() {
        var selected = SchemaFingerprint.of(List.of(ID, STATUS, NOTE), List.of("note", "id"));
        var otherStatus = SchemaFingerprint.of(List.of(ID, new CatalogColumn(2, "status", false, "{}"), NOTE), List.of("note", "id"));
        var withDropped = SchemaFingerprint.of(List.of(ID, STATUS, DROPPED, NOTE), List.of("note", "id"));

        assertThat(selected.columns()).containsOnlyKeys("id", "note");
        assertThat(otherStatus).isEqualTo(selected);
        assertThat(withDropped.hash()).isNotEqualTo(selected.hash());
    }

    @Test
    void aColumnRenamedOrRenumberedHasAnotherHash() {
        var renamed = all(ID, new CatalogColumn(2, "state", false, STATUS.description()));
        var renumbered = all(ID, new CatalogColumn(5, "status", false, "{\"attnum\" : 5, \"labels\" : [[\"new\", 1]]}"));
        var before = all(ID, STATUS);

        assertThat(renamed.hash()).isNotEqualTo(before.hash());
        assertThat(renumbered.hash()).isNotEqualTo(before.hash());
        assertThat(renumbered.columns().get("status")).isNotEqualTo(before.columns().get("status"));
    }
}
