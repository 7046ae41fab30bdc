package datakit.sql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.error.DatakitException;
import datakit.error.ExitCode;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * psql's pattern rules (PostgreSQL's patternToSQLRegex) turned into the two anchored regular expressions the server matches.
 * TableSetIT checks the same rules against what psql's {@code \dt} lists on a real server.
 */
class TablePatternTest {

    private static void translates(String pattern, String schemaRegex, String tableRegex) {
        var parsed = TablePattern.parse(pattern, "--table");
        assertThat(parsed.schemaRegex()).as("schema of %s", pattern).isEqualTo(schemaRegex);
        assertThat(parsed.tableRegex()).as("table of %s", pattern).isEqualTo(tableRegex);
    }

    private static Optional<TableRef> exact(String pattern) {
        return TablePattern.parse(pattern, "--table").exact();
    }

    private static String refused(String pattern, String option) {
        var error = assertThrows(DatakitException.class, () -> TablePattern.parse(pattern, option));
        assertThat(error.exitCode()).isEqualTo(ExitCode.BAD_INPUT);
        return error.getMessage();
    }

    /** Each row: the pattern, then the schema's and the table's regular expression, as psql's patternToSQLRegex writes them. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiterString = " => ", quoteCharacter = '`', textBlock = """
        # * is any sequence, ? one character
        shop.*                      => ^(shop)$        => ^(.*)$
        shop.order?_*               => ^(shop)$        => ^(order._.*)$
        *.*                         => ^(.*)$          => ^(.*)$
        # unquoted A-Z fold to lower case, quoted letters keep their case, quotes may cover part of a name
        Shop.Orders                 => ^(shop)$        => ^(orders)$
        "Shop"."Orders"             => ^(Shop)$        => ^(Orders)$
        SHOP."Ord"ERS               => ^(shop)$        => ^(Orders)$
        # only ASCII letters fold, as PostgreSQL folds identifiers in UTF-8
        s.ÄPFEL                     => ^(s)$           => ^(Äpfel)$
        s."Äpfel"                   => ^(s)$           => ^(Äpfel)$
        # in quotes * ? and . are literal
        s."x*y?"                    => ^(s)$           => ^(x\\*y\\?)$
        "a.b"."c.d"                 => ^(a\\.b)$       => ^(c\\.d)$
        "My Shop"."Ord"*            => ^(My Shop)$     => ^(Ord.*)$
        # "" in quotes is one quote; outside quotes it is an empty quoted piece
        s."say""hi\"""             => ^(s)$           => ^(say"hi")$
        s."say\"""*                => ^(s)$           => ^(say".*)$
        s.or""ders                  => ^(s)$           => ^(orders)$
        # in quotes every regular-expression character is escaped
        s."a+b(c)[d]{e}^f|g\\h"     => ^(s)$           => ^(a\\+b\\(c\\)\\[d\\]\\{e\\}\\^f\\|g\\\\h)$
        # outside quotes they keep their meaning, as in psql
        s.order(s|_items)           => ^(s)$           => ^(order(s|_items))$
        s.a+b                       => ^(s)$           => ^(a+b)$
        s.back\\\\slash             => ^(s)$           => ^(back\\\\slash)$
        s.[ab]x                     => ^(s)$           => ^([ab]x)$
        s.x^                        => ^(s)$           => ^(x^)$
        # $ is literal in quotes and out; [] is literal as a pair (an array type's name)
        s.price$                    => ^(s)$           => ^(price\\$)$
        s."price$"                  => ^(s)$           => ^(price\\$)$
        s.int[]                     => ^(s)$           => ^(int\\[])$
        s."int[]"                   => ^(s)$           => ^(int\\[\\])$
        # without a dot: a table in public
        orders*                     => ^(public)$      => ^(orders.*)$
        """)
    void translatesAsPsqlDoes(String pattern, String schemaRegex, String tableRegex) {
        var parsed = TablePattern.parse(pattern, "--table");
        assertThat(parsed.schemaRegex()).isEqualTo(schemaRegex);
        assertThat(parsed.tableRegex()).isEqualTo(tableRegex);
    }

    @Test
    void aPatternWithoutWildcardsNamesOneTable() {
        assertThat(exact("\"Shop\".\"Orders\"")).contains(TableRef.of("Shop", "Orders"));
        assertThat(exact("\"a.b\".\"c.d\"")).contains(TableRef.of("a.b", "c.d"));
        assertThat(exact("s.\"say\"\"hi\"\"\"")).contains(TableRef.of("s", "say\"hi\""));
        assertThat(exact("s.\"a+b(c)\"")).contains(TableRef.of("s", "a+b(c)"));
        assertThat(exact("s.price$")).contains(TableRef.of("s", "price$"));
        assertThat(exact("s.int[]")).contains(TableRef.of("s", "int[]"));
        assertThat(exact("Orders")).contains(TableRef.of("public", "orders"));
        assertThat(exact("s.a+b")).isEmpty();
        assertThat(exact("s.order*")).isEmpty();
        assertThat(exact("s.order?")).isEmpty();
    }

    @Test
    void spacesAroundThePatternAreTheShellsAndDropped() {
        translates("  shop.*  ", "^(shop)$", "^(.*)$");
        translates("\"My Shop\".\" x \"", "^(My Shop)$", "^( x )$");
    }

    @Test
    void theRegularExpressionsMatchWhatTheyShould() {
        var pattern = TablePattern.parse("\"My.Shop\".\"Order\"?", "--table");
        assertThat("My.Shop".matches(pattern.schemaRegex())).isTrue();
        assertThat("MyxShop".matches(pattern.schemaRegex())).isFalse();
        assertThat("Orders".matches(pattern.tableRegex())).isTrue();
        assertThat("orders".matches(pattern.tableRegex())).isFalse();
        assertThat("Order".matches(pattern.tableRegex())).isFalse();
    }

    @Test
    void aSchemaOptionIsEveryTableOfTheSchemasItMatches() {
        var shop = TablePattern.schema("Shop", "--schema");
        assertThat(shop.schemaRegex()).isEqualTo("^(shop)$");
        assertThat(shop.tableRegex()).isEqualTo("^(.*)$");
        assertThat(shop.exact()).isEmpty();
        assertThat(shop).hasToString("Shop (--schema)");
        assertThat(TablePattern.schema("\"a.b\"", "--schema").schemaRegex()).isEqualTo("^(a\\.b)$");
        var error = assertThrows(DatakitException.class, () -> TablePattern.schema("shop.orders", "--schema"));
        assertThat(error.getMessage()).isEqualTo("--schema pattern \"shop.orders\" names a table; give only the schema (quote a schema "
            + "name that contains a dot: '\"my.schema\"'), or select tables with --table.");
    }

    @Test
    void anEmptyPatternIsRefused() {
        assertThat(refused("", "--table")).isEqualTo("--table pattern is empty. Give a table name or a pattern such as shop.*.");
        assertThat(refused("  ", "--exclude-table")).startsWith("--exclude-table pattern is empty.");
    }

    @Test
    void anEmptyPartIsRefused() {
        String expected = "--table pattern \"%s\" has an empty name (a stray dot or \"\"). Give schema.table, or schema.* for every "
            + "table of a schema.";
        for (String pattern : new String[] {".orders", "shop.", "\"\"", "shop.\"\"", "\"\".orders"}) {
            assertThat(refused(pattern, "--table")).isEqualTo(expected.formatted(pattern));
        }
    }

    @Test
    void twoDotsAreRefused() {
        assertThat(refused("db.shop.orders", "--table")).isEqualTo("--table pattern \"db.shop.orders\" has 2 dots outside double "
            + "quotes; give schema.table, and quote a name that contains a dot: '\"my.table\"'.");
    }

    @Test
    void anUnclosedQuoteIsRefused() {
        assertThat(refused("shop.\"Orders", "--exclude-table")).isEqualTo("--exclude-table pattern \"shop.\"Orders\" has an unclosed "
            + "double quote. Close it (a quote inside a quoted name is written twice: \"say\"\"hi\"), or drop the quotes.");
        assertThat(refused("shop.\"say\"\"hi", "--table")).contains("unclosed double quote");
    }
}
