package datakit.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.error.DatakitException;
import datakit.error.ExitCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DotEnvTest {
    private static Map<String, String> parse(String... lines) {
        return DotEnv.parse("/app/.env", String.join("\n", lines));
    }

    private static DatakitException bad(String... lines) {
        var error = assertThrows(DatakitException.class, () -> parse(lines));
        assertThat(error.exitCode()).isEqualTo(ExitCode.BAD_INPUT);
        return error;
    }

    @Test
    void keyValueLinesAreReadInOrder() {
        var values = parse("SOURCE_PG_HOST=db.example.com", "SOURCE_PG_PORT = 6543 ");

        assertThat(values).containsExactly(Map.entry("SOURCE_PG_HOST", "db.example.com"), Map.entry("SOURCE_PG_PORT", "6543"));
    }

    @Test
    void commentsAndBlankLinesAreSkipped() {
        var values = parse("# the source", "", "   ", "  # indented comment", "A=1");

        assertThat(values).isEqualTo(Map.of("A", "1"));
    }

    @Test
    void exportPrefixIsIgnored() {
        assertThat(parse("export A=1", "export   B = 2")).isEqualTo(Map.of("A", "1", "B", "2"));
    }

    @Test
    void laterLineReplacesAnEarlierOne() {
        assertThat(parse("A=1", "A=2")).isEqualTo(Map.of("A", "2"));
    }

    @Test
    void emptyValueIsEmpty() {
        assertThat(parse("A=")).isEqualTo(Map.of("A", ""));
    }

    @Test
    void valueMayContainEqualsSigns() {
        assertThat(parse("SOURCE_DATABASE_URL=postgresql://h/db?sslmode=require&application_name=x"))
            .containsEntry("SOURCE_DATABASE_URL", "postgresql://h/db?sslmode=require&application_name=x");
    }

    @Test
    void spaceHashStartsAnInlineCommentOnUnquotedValues() {
        assertThat(parse("A=value # a comment")).containsEntry("A", "value");
    }

    @Test
    void hashWithoutASpaceBeforeItIsPartOfAnUnquotedValue() {
        assertThat(parse("A=pa#ss")).containsEntry("A", "pa#ss");
    }

    @Test
    void singleQuotesKeepEverythingLiterally() {
        assertThat(parse("A='a \\n b # not a comment \"x\"'")).containsEntry("A", "a \\n b # not a comment \"x\"");
    }

    @Test
    void doubleQuotesUnderstandEscapes() {
        assertThat(parse("A=\"line1\\nline2\\ttab \\\"quoted\\\" back\\\\slash\""))
            .containsEntry("A", "line1\nline2\ttab \"quoted\" back\\slash");
    }

    @Test
    void hashInsideQuotesIsNotAComment() {
        assertThat(parse("A=\"pa #ss\"", "B='pa #ss'")).isEqualTo(Map.of("A", "pa #ss", "B", "pa #ss"));
    }

    @Test
    void commentAfterAQuotedValueIsIgnored() {
        assertThat(parse("A=\"quoted\" # comment", "B='single' # comment"))
            .isEqualTo(Map.of("A", "quoted", "B", "single"));
    }

    @Test
    void quotesKeepLeadingAndTrailingSpaces() {
        assertThat(parse("A=\"  padded  \"")).containsEntry("A", "  padded  ");
    }

    @Test
    void windowsLineEndingsAreAccepted() {
        assertThat(DotEnv.parse(".env", "A=1\r\nB=2\r\n")).isEqualTo(Map.of("A", "1", "B", "2"));
    }

    @Test
    void variablesAreNotExpanded() {
        assertThat(parse("A=$HOME/${USER}")).containsEntry("A", "$HOME/${USER}");
    }

    @Test
    void lineWithoutEqualsNamesTheFileAndLine() {
        var error = bad("# comment", "A=1", "just some text");

        assertThat(error.getMessage()).isEqualTo("/app/.env line 3 is not KEY=value. Fix or remove the line.");
    }

    @Test
    void invalidKeyNamesTheFileAndLine() {
        var error = bad("A=1", "1BAD=2");

        assertThat(error.getMessage()).isEqualTo("/app/.env line 2 is not KEY=value. Fix or remove the line.");
    }

    @Test
    void unclosedDoubleQuoteNamesTheFileAndLine() {
        var error = bad("A=1", "B=\"never closed");

        assertThat(error.getMessage())
            .isEqualTo("/app/.env line 2 has an opening double quote and no closing one. Close the quote.");
    }

    @Test
    void escapedQuoteDoesNotCloseADoubleQuotedValue() {
        var error = bad("B=\"ends with an escaped quote\\\"");

        assertThat(error.getMessage())
            .isEqualTo("/app/.env line 1 has an opening double quote and no closing one. Close the quote.");
    }

    @Test
    void unclosedSingleQuoteNamesTheFileAndLine() {
        var error = bad("", "", "", "B='never closed");

        assertThat(error.getMessage())
            .isEqualTo("/app/.env line 4 has an opening single quote and no closing one. Close the quote.");
    }

    @Test
    void environmentReadsADotEnvFileAndLabelsItsValuesWithThePath(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve(".env"), "SOURCE_PG_HOST=dothost\nPGPORT=\n");

        var env = Environment.of(Map.of("SOURCE_PG_PORT", "6543"), file);

        assertThat(env.get("SOURCE_PG_HOST")).contains(new Environment.Variable("dothost", "SOURCE_PG_HOST (" + file + ")"));
        assertThat(env.get("SOURCE_PG_PORT")).contains(new Environment.Variable("6543", "SOURCE_PG_PORT"));
        assertThat(env.get("PGPORT")).isEmpty();
    }

    @Test
    void environmentWithoutADotEnvFileHasOnlyTheGivenVariables(@TempDir Path dir) {
        var env = Environment.of(Map.of("A", "1"), dir.resolve("missing.env"));

        assertThat(env.get("A")).contains(new Environment.Variable("1", "A"));
        assertThat(env.dotEnvValue("A")).isEmpty();
    }
}
