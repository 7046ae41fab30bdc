package datakit.sql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.error.DatakitException;
import datakit.error.ExitCode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SqlFragmentTest {
    private static DatakitException bad(String sql, String option) {
        var error = assertThrows(DatakitException.class, () -> SqlFragment.check(sql, option));
        assertThat(error.exitCode()).isEqualTo(ExitCode.BAD_INPUT);
        return error;
    }

    private static DatakitException bad(String sql) {
        return bad(sql, "--where");
    }

    // --- valid fragments -------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {
        "status = 'shipped'",
        "note = 'a;b' and id > 3",
        "note = 'it''s; fine'",
        "note = E'it\\'s; fine'",
        "note = e'back\\\\slash;'",
        "path = 'C:\\' and x = ';'",
        "\"quoted;ident\" = 1",
        "\"has \"\"quote\"\";\" = 1",
        "body = $$a;b)$$",
        "body = $tag$ ; ) ( $not$ $tag$",
        "body = $_t1$;$_t1$",
        "id = $1 and name = $2",
        "x = 1 -- trailing; comment with ) (",
        "-- leading comment;\nx = 1",
        "x = 1 /* block; ) */",
        "x = 1 /* outer /* inner; */ still ) inside */ and y = 2",
        "updated_at > now() - interval '1 day' and (a = 1 or (b = 2))",
        "SELECT id, (SELECT count(*) FROM t) FROM s WHERE a IN (1, 2)",
        "name ~ '^[a-z]+$'",
        "price::numeric(10,2) > 5",
    })
    void validFragmentPassesUnchanged(String sql) {
        assertThat(SqlFragment.check(sql, "--where")).isEqualTo(sql);
    }

    @Test
    void surroundingWhitespaceIsStripped() {
        assertThat(SqlFragment.check("  \n x = 1 \n ", "--where")).isEqualTo("x = 1");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "x = 1;",
        "x = 1 ;",
        "x = 1;   ",
        "x = 1;\n",
        "x = 1; -- done",
        "x = 1; /* done */",
        "x = 1; /* a */ -- b",
    })
    void trailingSemicolonIsDropped(String sql) {
        assertThat(SqlFragment.check(sql, "--where")).isEqualTo("x = 1");
    }

    @Test
    void trailingSemicolonFollowedByANestedCommentIsDropped() {
        assertThat(SqlFragment.check("x = 1; /* outer /* inner */ still outer */", "--where")).isEqualTo("x = 1");
    }

    @Test
    void semicolonInsideStringsBeforeATrailingSemicolonIsKept() {
        assertThat(SqlFragment.check("note = 'a;b';", "--where")).isEqualTo("note = 'a;b'");
    }

    @Test
    void queryWithATrailingSemicolonLosesIt() {
        assertThat(SqlFragment.check("SELECT id FROM orders;", "--query")).isEqualTo("SELECT id FROM orders");
    }

    @ParameterizedTest
    @ValueSource(strings = {"select*from t", "SELECT'a'", "SELECT\n1", "/* why */ -- note\n SELECT 1", "(SELECT 1) UNION (SELECT 2)",
        "values(1)", "TABLE orders", "WITH d AS (SELECT 1) SELECT * FROM d", "\u00a0\uFEFFSELECT 1", "select 1;"})
    void everyKindOfQueryIsAQuery(String sql) {
        assertThat(SqlFragment.checkQuery(sql)).isNotBlank();
    }

    @ParameterizedTest
    @ValueSource(strings = {"DELETE FROM orders RETURNING *", "/* hidden */ update orders SET x = 1 RETURNING *", "EXPLAIN SELECT 1",
        "*"})
    void aStatementThatIsNotAQueryIsRefused(String sql) {
        assertThatThrownBy(() -> SqlFragment.checkQuery(sql)).isInstanceOf(DatakitException.class)
            .hasMessageStartingWith("--query must be one query (SELECT, WITH, VALUES or TABLE), not ");
    }

    // --- errors ----------------------------------------------------------------------------------

    @Test
    void secondStatementIsRefusedInAWhere() {
        var error = bad("x = 1; DROP TABLE orders");

        assertThat(error.getMessage())
            .isEqualTo("--where contains more than one statement (a ; outside quotes). Give one condition.");
    }

    @Test
    void secondStatementIsRefusedInAQuery() {
        var error = bad("SELECT 1; SELECT 2", "--query");

        assertThat(error.getMessage())
            .isEqualTo("--query contains more than one statement (a ; outside quotes). Give one SELECT query.");
    }

    @Test
    void secondStatementAfterACommentIsRefused() {
        var error = bad("x = 1; /* hi */ DELETE FROM orders");

        assertThat(error.getMessage()).startsWith("--where contains more than one statement");
    }

    @Test
    void doubleSemicolonIsRefused() {
        assertThat(bad("x = 1;;").getMessage()).startsWith("--where contains more than one statement");
    }

    @Test
    void semicolonAfterAStringIsAStatementSeparator() {
        assertThat(bad("x = 'a'; SELECT pg_sleep(10)").getMessage()).startsWith("--where contains more than one statement");
    }

    @Test
    void closingTheCopyParenthesisIsRefused() {
        var error = bad("1=1) TO PROGRAM 'x' --");

        assertThat(error.getMessage()).isEqualTo("--where has a ) without a matching (. Balance the parentheses.");
    }

    @Test
    void closeThenReopenIsRefusedEvenThoughTheCountsMatch() {
        var error = bad("1=1) TO PROGRAM 'rm -rf /' (");

        assertThat(error.getMessage()).isEqualTo("--where has a ) without a matching (. Balance the parentheses.");
    }

    @Test
    void escapeStringPrefixInsideAnIdentifierDoesNotHideAClosingParenthesis() {
        // PostgreSQL lexes _E as an identifier, so '\' is a standard string ending at its second quote
        // and the ) that follows is code.
        var error = bad("_E'\\' ) TO PROGRAM 'x' --'");

        assertThat(error.getMessage()).isEqualTo("--where has a ) without a matching (. Balance the parentheses.");
    }

    @Test
    void unmatchedOpeningParenthesisIsRefused() {
        var error = bad("(a = 1 or b = 2");

        assertThat(error.getMessage()).isEqualTo("--where has a ( without a matching ). Balance the parentheses.");
    }

    @Test
    void parenthesisInsideALiteralDoesNotBalanceACodeParenthesis() {
        assertThat(bad("(a = ')'").getMessage())
            .isEqualTo("--where has a ( without a matching ). Balance the parentheses.");
    }

    @Test
    void unclosedStringLiteralIsRefused() {
        assertThat(bad("name = 'abc").getMessage()).isEqualTo("--where has an unclosed string literal. Close it.");
    }

    @Test
    void backslashQuoteInAnEscapeStringDoesNotCloseIt() {
        assertThat(bad("name = E'abc\\'").getMessage()).isEqualTo("--where has an unclosed string literal. Close it.");
    }

    @Test
    void unclosedQuotedIdentifierIsRefused() {
        assertThat(bad("\"Name = 1").getMessage()).isEqualTo("--where has an unclosed quoted identifier. Close it.");
    }

    @Test
    void unclosedDollarQuoteIsRefused() {
        assertThat(bad("body = $$abc").getMessage()).isEqualTo("--where has an unclosed dollar-quoted string $$. Close it.");
    }

    @Test
    void unclosedTaggedDollarQuoteNamesTheTag() {
        assertThat(bad("body = $fn$abc$other$").getMessage())
            .isEqualTo("--where has an unclosed dollar-quoted string $fn$. Close it.");
    }

    @Test
    void unclosedBlockCommentIsRefused() {
        assertThat(bad("x = 1 /* never closed").getMessage()).isEqualTo("--where has an unclosed /* comment. Close it.");
    }

    @Test
    void unclosedNestedBlockCommentIsRefused() {
        assertThat(bad("x = 1 /* outer /* inner */ outer never closed").getMessage())
            .isEqualTo("--where has an unclosed /* comment. Close it.");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   ", ";", " ; ", "-- only a comment", "/* only a comment */", "/* a */ -- b\n;"})
    void emptyOrCommentOnlyFragmentIsRefused(String sql) {
        assertThat(bad(sql).getMessage()).isEqualTo("--where is empty. Give some SQL or leave the option out.");
    }

    @Test
    void nestedCommentOnlyFragmentIsRefusedAsEmpty() {
        assertThat(bad("/* outer /* inner */ outer */").getMessage())
            .isEqualTo("--where is empty. Give some SQL or leave the option out.");
    }

    @Test
    void emptyQueryNamesTheQueryOption() {
        assertThat(bad("", "--query").getMessage()).isEqualTo("--query is empty. Give some SQL or leave the option out.");
    }
}
