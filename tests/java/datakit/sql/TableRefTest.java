package datakit.sql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.error.DatakitException;
import datakit.error.ExitCode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TableRefTest {
    private static TableRef parse(String text) {
        return TableRef.parse(text, "public", "--table");
    }

    private static DatakitException bad(Runnable action) {
        var error = assertThrows(DatakitException.class, action::run);
        assertThat(error.exitCode()).isEqualTo(ExitCode.BAD_INPUT);
        return error;
    }

    // --- parse -----------------------------------------------------------------------------------

    @Test
    void unquotedSchemaAndTableFoldToLowerCase() {
        var ref = parse("Sales.Orders");

        assertThat(ref).isEqualTo(TableRef.of("sales", "orders"));
        assertThat(ref.toString()).isEqualTo("sales.orders");
        assertThat(ref.sql()).isEqualTo("\"sales\".\"orders\"");
    }

    @Test
    void quotedSchemaAndTableKeepTheirCase() {
        var ref = parse("\"Sales\".\"Order Items\"");

        assertThat(ref).isEqualTo(TableRef.of("Sales", "Order Items"));
        assertThat(ref.toString()).isEqualTo("\"Sales\".\"Order Items\"");
        assertThat(ref.sql()).isEqualTo("\"Sales\".\"Order Items\"");
    }

    @Test
    void tableAloneIsInTheDefaultSchema() {
        assertThat(parse("orders")).isEqualTo(TableRef.of("public", "orders"));
        assertThat(TableRef.parse("orders", "staging", "--table")).isEqualTo(TableRef.of("staging", "orders"));
    }

    @Test
    void quotedNameMayContainADot() {
        var ref = parse("\"my.table\"");

        assertThat(ref).isEqualTo(TableRef.of("public", "my.table"));
        assertThat(ref.toString()).isEqualTo("public.\"my.table\"");
    }

    @Test
    void doubledQuotesInAQuotedNameAreOneQuote() {
        var ref = parse("sales.\"say \"\"hi\"\"\"");

        assertThat(ref.table()).isEqualTo("say \"hi\"");
        assertThat(ref.toString()).isEqualTo("sales.\"say \"\"hi\"\"\"");
    }

    @Test
    void threePartsAreRefused() {
        var error = bad(() -> parse("db.sales.orders"));

        assertThat(error.getMessage()).isEqualTo("--table \"db.sales.orders\" has 3 dot-separated parts; "
            + "give schema.table (quote a name that contains a dot: \"my.table\").");
    }

    @Test
    void unclosedQuoteIsRefused() {
        var error = bad(() -> parse("sales.\"Orders"));

        assertThat(error.getMessage())
            .isEqualTo("--table \"sales.\"Orders\" has an unclosed double quote. Close it, or drop the quotes.");
    }

    // --- display ---------------------------------------------------------------------------------

    @Test
    void displayQuotesOnlyNamesThatNeedIt() {
        assertThat(TableRef.of("sales", "Order Items").toString()).isEqualTo("sales.\"Order Items\"");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
        orders        | orders
        _tmp$1        | _tmp$1
        order_items2  | order_items2
        Orders        | "Orders"
        order items   | "order items"
        say"hi        | "say""hi"
        1st_orders    | "1st_orders"
        a.b           | "a.b"
        a;b           | "a;b"
        $orders       | "$orders"
        """)
    void displayIsBareForPlainLowerCaseAndQuotedOtherwise(String identifier, String shown) {
        assertThat(TableRef.display(identifier)).isEqualTo(shown);
    }

    // --- sql -------------------------------------------------------------------------------------

    @Test
    void sqlQuotesEveryPartAndDoublesInnerQuotes() {
        var ref = TableRef.of("public", "x\"; DROP TABLE t; --");

        assertThat(ref.sql()).isEqualTo("\"public\".\"x\"\"; DROP TABLE t; --\"");
    }

    @Test
    void parsedNameWithSemicolonsAndQuotesStaysOneIdentifier() {
        var ref = parse("\"a\"\"; DROP TABLE t; --\".\"b;c\"");

        assertThat(ref).isEqualTo(TableRef.of("a\"; DROP TABLE t; --", "b;c"));
        assertThat(ref.sql()).isEqualTo("\"a\"\"; DROP TABLE t; --\".\"b;c\"");
        assertThat(ref.toString()).isEqualTo("\"a\"\"; DROP TABLE t; --\".\"b;c\"");
    }

    @Test
    void sqlQuotesPlainNamesToo() {
        assertThat(TableRef.of("public", "orders").sql()).isEqualTo("\"public\".\"orders\"");
    }

    @Test
    void withTableKeepsTheSchema() {
        assertThat(TableRef.of("sales", "orders").withTable("orders_v2")).isEqualTo(TableRef.of("sales", "orders_v2"));
    }

    // --- limits ----------------------------------------------------------------------------------

    @Test
    void sixtyThreeByteNameIsAccepted() {
        String name = "a".repeat(63);

        assertThat(TableRef.of("public", name).table()).isEqualTo(name);
    }

    @Test
    void sixtyFourByteTableNameIsRefusedWithItsByteCount() {
        String name = "a".repeat(64);

        var error = bad(() -> TableRef.of("public", name));

        assertThat(error.getMessage())
            .isEqualTo("The table name \"" + name + "\" is 64 bytes long; PostgreSQL allows 63. Choose a shorter name.");
    }

    @Test
    void byteLimitCountsUtf8BytesNotCharacters() {
        String name = "é".repeat(32);

        var error = bad(() -> parse("sales." + name));

        assertThat(error.getMessage())
            .isEqualTo("The table name \"" + name + "\" is 64 bytes long; PostgreSQL allows 63. Choose a shorter name.");
    }

    @Test
    void longSchemaNameIsRefusedToo() {
        String name = "s".repeat(70);

        var error = bad(() -> TableRef.of(name, "orders"));

        assertThat(error.getMessage())
            .isEqualTo("The schema name \"" + name + "\" is 70 bytes long; PostgreSQL allows 63. Choose a shorter name.");
    }

    @Test
    void emptyNameIsRefused() {
        assertThat(bad(() -> TableRef.of("public", "")).getMessage()).isEqualTo("The table name is empty.");
        assertThat(bad(() -> TableRef.of(null, "orders")).getMessage()).isEqualTo("The schema name is empty.");
    }
}
