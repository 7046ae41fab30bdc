package datakit.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import datakit.error.DatakitException;
import datakit.jobs.JobFile;
import datakit.run.LoadChoice;
import datakit.sql.TableRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Review probes (issue 18): the emitted job file must read back as exactly the source's tables. */
class EmitJobsProbeTest {
    static final Set<String> DATAKITS = DiscoveredJobsTest.DATAKITS;
    @TempDir
    Path dir;

    static Map<String, Object> table(String schema, String name) {
        return DiscoveredJobsTest.table(schema, name, "table", 8192, List.of("id"), false);
    }

    JobFile readBack(List<Map<String, Object>> tables) throws Exception {
        var emitted = DiscoveredJobs.emitted("db:5432/x", List.of(), tables);
        Path file = dir.resolve("jobs.yml");
        Files.writeString(file, emitted.yaml());
        return JobFile.read(file, DATAKITS, name -> null);
    }

    /** Every stream's --table, parsed as the datakit parses it. */
    static List<TableRef> tablesOf(JobFile jobs) {
        return jobs.streams().values().stream().map(s -> TableRef.parse(s.arguments().get(s.arguments().indexOf("--table") + 1), "public", "--table")).toList();
    }

    /** A renamed stream that meets another table's name is refused, never written for bronze-jobs to keep one of the two. */
    @Test
    void aRenamedTableThatMeetsATableOfThatNameIsRefused() {
        // a.x_y and b.x_y share a name, so a.x_y is renamed a_x_y; public.a_x_y is unique, so it keeps its name a_x_y.
        assertThatThrownBy(() -> readBack(List.of(table("a", "x_y"), table("b", "x_y"), table("public", "a_x_y"))))
            .isInstanceOf(DatakitException.class)
            .hasMessage("Two tables would load into the bronze table a_x_y: a.x_y and public.a_x_y. Emit their schemas one at a time "
                + "(--schema), or write the job file by hand.");
    }

    @Test
    void twoRenamesThatMeetAreRefused() {
        // a.b_c -> a_b_c (x.b_c exists) and a_b.c -> a_b_c (y.c exists).
        assertThatThrownBy(() -> readBack(List.of(table("a", "b_c"), table("x", "b_c"), table("a_b", "c"), table("y", "c"))))
            .isInstanceOf(DatakitException.class).hasMessageContaining("Two tables would load into the bronze table a_b_c");
    }

    /** A job file with a stream twice is refused by bronze-jobs, not read with the last one only. */
    @Test
    void aJobFileWithAStreamTwiceIsRefused() throws Exception {
        Path file = dir.resolve("twice.yml");
        Files.writeString(file, "streams:\n  orders:\n    datakit: postgres-extract\n    options:\n      table: a.orders\n"
            + "  orders:\n    datakit: postgres-extract\n    options:\n      table: b.orders\n");
        assertThatThrownBy(() -> JobFile.read(file, DATAKITS, name -> null)).isInstanceOf(DatakitException.class)
            .hasMessageContaining("orders");
    }

    void readsBackExactly(String name) throws Exception {
        var jobs = readBack(List.of(table("s", name)));
        assertThat(tablesOf(jobs)).containsExactly(TableRef.of("s", name));
    }

    @Test
    void yamlSpecialNamesReadBack() throws Exception {
        for (String name : List.of("yes", "null", "~", "0x10", "-x", "#x", "a: b", "a\nb", "1e3", "on", "*x", "&a", "!x", "%x", "@x", "`x",
            "\ud83d\ude00", "a\tb", "x ", " x")) {
            readsBackExactly(name);
        }
    }

    @Test
    void aDelCharacterReadsBack() throws Exception {
        readsBackExactly("a\u007fb");
    }

    @Test
    void aC1ControlCharacterReadsBack() throws Exception {
        readsBackExactly("a\u0086b");
    }

    @Test
    void aNextLineCharacterReadsBack() throws Exception {
        readsBackExactly("a\u0085b");
    }

    @Test
    void aLineSeparatorReadsBack() throws Exception {
        readsBackExactly("a\u2028b");
    }

    @Test
    void aByteOrderMarkReadsBack() throws Exception {
        readsBackExactly("a\ufeffb");
    }

    @Test
    void aLineSeparatorInANameCannotInjectKeysThroughAComment() throws Exception {
        // The name appears in the stream's comment; if U+2028 ends the comment, the rest is read as YAML.
        var jobs = readBack(List.of(table("s", "t\u2028    datakit: postgres-cdc")));
        assertThat(jobs.streams().values()).allMatch(s -> s.datakit().equals("postgres-incremental"));
    }

    @Test
    void createdAtIsNotChosenOverUpdatedAt() {
        // Discovery lists candidates time columns first, then by attnum: created_at (attnum 2) before updated_at (3).
        var t = new LoadChoice.Table(TableRef.of("s", "orders"), false, 8192, List.of("id"),
            List.of(new LoadChoice.Column("id", "bigint", false), new LoadChoice.Column("created_at", "timestamp with time zone", false),
                new LoadChoice.Column("updated_at", "timestamp with time zone", false)),
            List.of(new LoadChoice.Candidate("created_at", "timestamp with time zone", "leads an index"),
                new LoadChoice.Candidate("updated_at", "timestamp with time zone", "leads an index")), 10);
        assertThat(LoadChoice.of(t, Optional.empty()).cursorField()).contains("updated_at");
    }

    @Test
    void anInsertOnlyTimestampIsNotChosenSilently() {
        // Only created_at is indexed: a cursor that is never raised by UPDATE misses every update. Expect xmin, or a note.
        var t = new LoadChoice.Table(TableRef.of("s", "orders"), false, 8192, List.of("id"),
            List.of(new LoadChoice.Column("id", "bigint", false), new LoadChoice.Column("created_at", "timestamp with time zone", false),
                new LoadChoice.Column("status", "text", false)),
            List.of(new LoadChoice.Candidate("created_at", "timestamp with time zone", "leads an index")), 10);
        var choice = LoadChoice.of(t, Optional.empty());
        assertThat(choice.xmin() || choice.notes().stream().anyMatch(n -> n.contains("UPDATE") || n.contains("update")))
            .as("choice %s", choice).isTrue();
    }
}
