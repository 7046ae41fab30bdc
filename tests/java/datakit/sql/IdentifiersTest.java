package datakit.sql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.error.DatakitException;
import datakit.error.ExitCode;
import org.junit.jupiter.api.Test;

class IdentifiersTest {
    private static DatakitException bad(Runnable parse) {
        var error = assertThrows(DatakitException.class, parse::run);
        assertThat(error.exitCode()).isEqualTo(ExitCode.BAD_INPUT);
        return error;
    }

    @Test
    void unquotedNameFoldsToLowerCase() {
        assertThat(Identifiers.one("Orders", "--target-table")).isEqualTo("orders");
    }

    @Test
    void quotedNameKeepsItsCaseAndSpaces() {
        assertThat(Identifiers.one("\"Order Items\"", "--target-table")).isEqualTo("Order Items");
    }

    @Test
    void doubledQuoteInsideQuotesIsOneQuote() {
        assertThat(Identifiers.one("\"say \"\"hi\"\"\"", "--target-table")).isEqualTo("say \"hi\"");
    }

    @Test
    void surroundingSpacesAreIgnored() {
        assertThat(Identifiers.one("  Orders  ", "--target-table")).isEqualTo("orders");
        assertThat(Identifiers.one("  \"Orders\"  ", "--target-table")).isEqualTo("Orders");
    }

    @Test
    void onlyAsciiLettersFoldLikePostgresqlDoesInUtf8() {
        // PostgreSQL's downcase_identifier lowers A-Z only when the encoding is multibyte (UTF8).
        assertThat(Identifiers.one("Äpfel", "--target-table")).isEqualTo("Äpfel");
        assertThat(Identifiers.one("ÉTÉ", "--target-table")).isEqualTo("ÉtÉ");
    }

    @Test
    void splitSeparatesOutsideQuotesOnly() {
        assertThat(Identifiers.split("id, Name ,\"Full, Name\"", ',', "--columns"))
            .containsExactly("id", "name", "Full, Name");
    }

    @Test
    void splitOnDotsGivesSchemaAndTable() {
        assertThat(Identifiers.split("Sales.Orders", '.', "--table")).containsExactly("sales", "orders");
        assertThat(Identifiers.split("\"Sales\".\"Order Items\"", '.', "--table")).containsExactly("Sales", "Order Items");
        assertThat(Identifiers.split("\"my.schema\" . \"my.table\"", '.', "--table")).containsExactly("my.schema", "my.table");
    }

    @Test
    void semicolonsAndQuotesStayPartOfTheName() {
        assertThat(Identifiers.split("\"a;b\",\"x\"\"; DROP TABLE t; --\"", ',', "--columns"))
            .containsExactly("a;b", "x\"; DROP TABLE t; --");
    }

    @Test
    void unclosedQuoteIsRefused() {
        var error = bad(() -> Identifiers.split("\"Sales.orders", '.', "--table"));

        assertThat(error.getMessage())
            .isEqualTo("--table \"\"Sales.orders\" has an unclosed double quote. Close it, or drop the quotes.");
    }

    @Test
    void strayDoubledSeparatorIsAnEmptyName() {
        var error = bad(() -> Identifiers.split("id,,name", ',', "--columns"));

        assertThat(error.getMessage()).isEqualTo("--columns \"id,,name\" has an empty name. Check for a stray separator.");
    }

    @Test
    void trailingSeparatorIsAnEmptyName() {
        var error = bad(() -> Identifiers.split("sales.", '.', "--table"));

        assertThat(error.getMessage()).isEqualTo("--table \"sales.\" has an empty name. Check for a stray separator.");
    }

    @Test
    void emptyQuotedNameIsRefused() {
        var error = bad(() -> Identifiers.one("\"\"", "--target-schema"));

        assertThat(error.getMessage()).isEqualTo("--target-schema \"\"\"\" has an empty name. Check for a stray separator.");
    }

    @Test
    void blankTextIsRefused() {
        var error = bad(() -> Identifiers.one("   ", "--target-table"));

        assertThat(error.getMessage()).isEqualTo("--target-table \"   \" has an empty name. Check for a stray separator.");
    }
}
